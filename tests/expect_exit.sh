#!/usr/bin/env bash
# expect_exit.sh CODE REGEX COMMAND [ARGS...]: runs COMMAND and passes (exit 0) only when it exits
# with CODE and prints exactly one line (stdout and stderr together) that matches the extended
# regular expression REGEX. For the command-line tests: a wrong call must say so in one line and
# exit with the code that README promises, not merely fail.
set -u
if [ $# -lt 3 ]; then
  echo "usage: expect_exit.sh CODE REGEX COMMAND [ARGS...]" >&2
  exit 2
fi
expected=$1
regex=$2
shift 2

output=$("$@" 2>&1)
code=$?
printf '%s\n' "$output"

lines=$(printf '%s\n' "$output" | wc -l)
if [ "$code" -ne "$expected" ]; then
  echo "expect_exit: exit code $code, expected $expected"
  exit 1
fi
if [ -z "$output" ] || [ "$lines" -ne 1 ]; then
  echo "expect_exit: expected one line of output, got $lines"
  exit 1
fi
if ! printf '%s\n' "$output" | grep -Eq -- "$regex"; then
  echo "expect_exit: the line does not match '$regex'"
  exit 1
fi
echo "expect_exit: ok (exit $code)"
