# Kazna: the two commands a new machine needs are `make up` and `make test`.
.PHONY: up test bench setup build fmt lint check

PRODUCTS ?= 240

# Starts PostgreSQL, Redis and RabbitMQ if needed, loads the demo shop, runs every service.
up: setup build
	./target/release/kazna seed --demo --products $(PRODUCTS)
	./target/release/kazna up

# Every test, against real PostgreSQL, Redis and RabbitMQ (started if needed).
test:
	scripts/test.sh

# Release build, seeded shop, load scenarios and ceilings; writes target/bench/report.json.
bench: setup
	scripts/bench.sh

setup:
	scripts/setup.sh

build:
	cargo build --release -p kazna

fmt:
	cargo fmt --all

lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	scripts/check-deps.sh

check: lint test
