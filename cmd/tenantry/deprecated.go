package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/alecthomas/kong"
)

// Old spellings keep working, with a warning on stderr, so scripts and
// the demo do not break. A renamed flag keeps its old name as a hidden kong
// alias (`aliases:"old"`); a renamed environment variable stays a later
// entry of the flag's env list and is named here; the boolean --json, which
// kong cannot alias to an enum, is rewritten before parsing.

// deprecatedEnv maps old environment variables to their new names.
var deprecatedEnv = map[string]string{
	"TENANTRY_UPLOAD_BUCKET": "TENANTRY_BUCKET",
	"TENANTRY_API_MAX_CONNS": "TENANTRY_DB_MAX_CONNS",
	"TENANTRY_DLQ_ACTOR":     "TENANTRY_ACTOR",
}

// rewriteArgs replaces --json (and --json=true/false) by --output, up to a
// "--" terminator, and reports whether it did.
func rewriteArgs(args []string) ([]string, bool) {
	out := make([]string, len(args))
	copy(out, args)
	used := false
	for i, a := range out {
		if a == "--" {
			break
		}
		switch a {
		case "--json", "--json=true":
			out[i], used = "--output=json", true
		case "--json=false":
			out[i], used = "--output=table", true
		}
	}
	return out, used
}

// warnDeprecated writes one warning per old spelling the command line or
// the environment used for the selected command.
func warnDeprecated(w io.Writer, kctx *kong.Context, args []string, jsonUsed bool) {
	if jsonUsed {
		fmt.Fprintln(w, "tenantry: warning: --json is deprecated; use --output json")
	}
	for _, f := range kctx.Flags() {
		for _, alias := range f.Aliases {
			for _, a := range args {
				if a == "--" {
					break
				}
				if a == "--"+alias || strings.HasPrefix(a, "--"+alias+"=") {
					fmt.Fprintf(w, "tenantry: warning: --%s is deprecated; use --%s\n", alias, f.Name)
					break
				}
			}
		}
		for _, env := range f.Envs {
			if repl, ok := deprecatedEnv[env]; ok && os.Getenv(env) != "" && os.Getenv(repl) == "" {
				fmt.Fprintf(w, "tenantry: warning: %s is deprecated; use %s\n", env, repl)
			}
		}
	}
}
