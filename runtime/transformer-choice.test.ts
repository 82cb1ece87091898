// The transformer choice's string form round-trips (the journal's column, the
// program's environment), and a damaged stored value is refused.
import t from 'tap'
import { choiceEnv, choiceFromEnv, describeChoice, fileChoice, isChoice, parseChoice, type TransformerChoice } from './transformer-choice.js'

const names = { file: 'DSU_TRANSFORMER', dir: 'DSU_TRANSFORMERS' }

t.test('each kind: string form, parsed back, environment and back', async (t) => {
  const cases: Array<[TransformerChoice, string]> = [
    [{ kind: 'file', path: '/app/dsu.transform.js' }, '/app/dsu.transform.js'],
    [{ kind: 'file', path: '/app/t.js', export: 'up' }, '/app/t.js#up'],
    [{ kind: 'reverse', path: '/app/t.js' }, '/app/t.js#reverse'],
    [{ kind: 'chain', path: '/app/dsu.transformers' }, '/app/dsu.transformers/'],
  ]
  for (const [choice, text] of cases) {
    t.equal(describeChoice(choice), text)
    t.same(parseChoice(text), choice, text)
    t.same(choiceFromEnv(choiceEnv(choice, names), names), choice, `${text} through the environment`)
    t.ok(isChoice(JSON.parse(JSON.stringify(choice))), `${text} stored`)
  }
  t.same(choiceEnv({ kind: 'reverse', path: '/a.js' }, names), { DSU_TRANSFORMER: '/a.js#reverse' }, 'what older runtimes read')
  t.same(choiceEnv({ kind: 'chain', path: '/d' }, names), { DSU_TRANSFORMERS: '/d' })
  t.equal(describeChoice(null), null)
  t.equal(parseChoice(null), null)
  t.same(fileChoice('#odd.js'), { kind: 'file', path: '#odd.js' }, 'a leading # is part of the name')
})

t.test('damaged stored values are refused', async (t) => {
  for (const bad of [null, 'x', {}, { kind: 'file' }, { kind: 'file', path: '' }, { kind: 'nope', path: '/a' }, { kind: 'chain', path: '/a', export: 'x' }, { kind: 'file', path: '/a', export: 5 }]) {
    t.notOk(isChoice(bad), JSON.stringify(bad))
  }
})
