#!/usr/bin/env bash
# with-stack.sh CMD...: brings the local stack up, exports its environment,
# runs CMD, and stops again whatever this invocation started (a stack that was
# already running is left running). Exit status is CMD's.
source "$(dirname "$0")/lib.sh"
stack="$ROOT/deploy/local/stack.sh"
was_running=$("$stack" status 2>/dev/null | grep -c running || true)
"$stack" up
eval "$("$stack" env)"
status=0
"$@" || status=$?
if [ "$was_running" = 0 ]; then
	"$stack" down
fi
exit $status
