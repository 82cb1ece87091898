# dsu — make install | build | test | demo | fleet-demo | bench | soak
.PHONY: install build test test-unit test-integration demo fleet-demo bench soak clean

NODE_MODULES_STAMP := node_modules/.install-stamp

install: $(NODE_MODULES_STAMP)

$(NODE_MODULES_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	# Example programs import 'dsu' by name: link the package into its own node_modules.
	ln -sfn .. node_modules/dsu
	touch $@

build: install
	rm -rf dist
	npx tsc -p tsconfig.json
	chmod +x dist/cli/main.js

test: build
	npx tap --disable-coverage --timeout 180 --jobs 2 \
	  'dist/cli/**/*.test.js' 'dist/runtime/**/*.test.js' 'dist/transformers/**/*.test.js' 'dist/integration/**/*.test.js'

demo: build
	node integration/demo.js

# Three hosts as network namespaces behind HAProxy, rolled out by Ansible
# (docs/fleet.md). Needs root; installs haproxy and ansible-core from Debian's
# packages when missing; elsewhere it says why it cannot run.
fleet-demo: build
	node dist/integration/fleet/fleet-demo.js

bench: build
	node dist/integration/bench/main.js

soak: build
	node dist/integration/bench/soak.js

clean:
	rm -rf dist node_modules .tap
