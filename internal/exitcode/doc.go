// Package exitcode owns the exit status of the tenantry command: one
// table of codes (0 ok, 1 failure, 2 usage, 3 refused, 4 unreachable) and
// the one classifier (Of) that maps an error to its code, so that every
// subcommand exits alike and scripts can tell a refused envelope, a broken
// audit chain or a refused job from an outage.
//
// It must never print, log or exit: cmd/tenantry does, with Of's answer.
package exitcode
