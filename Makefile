.PHONY: test build demo bench
build:
	go build -o bin/exportd ./cmd/exportd
# Every test (what CI runs).
test:
	./scripts/test.sh
# The main job on the embedded default: DuckDB demo -> ./archive.
demo:
	go run ./cmd/exportd serve --once
bench:
	./scripts/bench.sh
