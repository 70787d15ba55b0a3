package deployaws_test

// The task definition configures the worker through environment variables;
// they must be the ones `tenantry worker` reads (kong `env` tags in
// cmd/tenantry), and every required one must be set.

import (
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// cliField is one field of a command struct in cmd/tenantry.
type cliField struct {
	Name, Type string
	Tag        reflect.StructTag
	Embedded   bool
}

// cliStructs parses cmd/tenantry and returns its struct types by name.
func cliStructs(root string) (map[string][]cliField, error) {
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(root, "cmd", "tenantry", "*.go"))
	if err != nil {
		return nil, err
	}
	out := map[string][]cliField{}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, parser.SkipObjectResolution)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			ts, ok := n.(*ast.TypeSpec)
			if !ok {
				return true
			}
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				return true
			}
			var fields []cliField
			for _, fl := range st.Fields.List {
				typ := typeName(fl.Type)
				var tag reflect.StructTag
				if fl.Tag != nil {
					if s, err := strconv.Unquote(fl.Tag.Value); err == nil {
						tag = reflect.StructTag(s)
					}
				}
				if len(fl.Names) == 0 {
					fields = append(fields, cliField{Name: typ, Type: typ, Tag: tag, Embedded: true})
				}
				for _, name := range fl.Names {
					_, embed := tag.Lookup("embed")
					fields = append(fields, cliField{Name: name.Name, Type: typ, Tag: tag, Embedded: embed})
				}
			}
			out[ts.Name.Name] = fields
			return false
		})
	}
	return out, nil
}

func typeName(e ast.Expr) string {
	switch x := e.(type) {
	case *ast.Ident:
		return x.Name
	case *ast.StarExpr:
		return typeName(x.X)
	case *ast.ArrayType:
		return "[]" + typeName(x.Elt)
	case *ast.SelectorExpr:
		return typeName(x.X) + "." + x.Sel.Name
	}
	return ""
}

// envVar is an environment variable a command reads.
type envVar struct {
	Required bool
	Field    string
	Enum     []string // kong enum values, if any
}

// commandEnv collects the env tags of a command struct and of the structs
// it embeds, recursively.
func commandEnv(structs map[string][]cliField, name string, out map[string]envVar, depth int) {
	if depth > 10 {
		return
	}
	for _, f := range structs[name] {
		if f.Embedded {
			commandEnv(structs, f.Type, out, depth+1)
			continue
		}
		env, ok := f.Tag.Lookup("env")
		if !ok {
			continue
		}
		_, required := f.Tag.Lookup("required")
		_, hasDefault := f.Tag.Lookup("default")
		var enum []string
		if e, ok := f.Tag.Lookup("enum"); ok {
			enum = strings.Split(e, ",")
		}
		for _, e := range strings.Split(env, ",") {
			out[e] = envVar{Required: required && !hasDefault, Field: name + "." + f.Name, Enum: enum}
		}
	}
}

// pendingEnv are variables the task definition sets ahead of the flag that
// will read them, with what is missing; kong ignores unknown variables.
var pendingEnv = map[string]string{}

// unoffered are values the worker accepts that the template deliberately does
// not offer, with the reason.
var unoffered = map[string]string{
	"TENANTRY_EMBED_PROVIDER=openai": "needs an external endpoint and API key this template does not manage; set TENANTRY_OPENAI_BASE_URL and the key in your own task definition",
}

// standardEnv are variables read by libraries, not by tenantry's flags.
var standardEnv = map[string]string{
	"PGHOST":     "pgx (libpq variables fill in what TENANTRY_DATABASE_URL leaves out)",
	"PGPORT":     "pgx",
	"PGDATABASE": "pgx",
	"PGUSER":     "pgx",
	"PGPASSWORD": "pgx",
	"PGSSLMODE":  "pgx",
	"GOMEMLIMIT": "the Go runtime (soft memory limit)",
}

func TestWorkerEnvironmentIsRead(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	structs, err := cliStructs(repoRoot(t))
	if err != nil {
		t.Fatal(err)
	}
	if structs["WorkerCmd"] == nil {
		t.Skip("cmd/tenantry has no WorkerCmd yet")
	}
	reads := map[string]envVar{}
	commandEnv(structs, "WorkerCmd", reads, 0)
	commandEnv(structs, "Globals", reads, 0)
	containers := asList(get(tpl.props("WorkerTaskDefinition"), "ContainerDefinitions"))
	set := map[string]bool{}
	for _, c := range containers {
		for _, key := range []string{"Environment", "Secrets"} {
			for _, e := range branches(asList(get(c, key))) {
				name, _ := get(e, "Name").(string)
				set[name] = true
			}
		}
	}
	var unknown []string
	for name := range set {
		_, read := reads[name]
		switch {
		case read && pendingEnv[name] != "":
			t.Errorf("tenantry worker now reads %s: remove it from pendingEnv in cli_test.go and from the docs' caveats", name)
		case read, standardEnv[name] != "":
		case pendingEnv[name] != "":
			t.Logf("pending: %s: %s", name, pendingEnv[name])
		default:
			unknown = append(unknown, name)
		}
	}
	sort.Strings(unknown)
	for _, name := range unknown {
		t.Errorf("the task definition sets %s, which tenantry worker does not read", name)
	}
	for name, v := range reads {
		if v.Required && !set[name] {
			t.Errorf("tenantry worker requires %s (%s); the task definition does not set it", name, v.Field)
		}
	}
	// A parameter passed straight into an enumerated flag allows only what
	// the flag accepts.
	for _, c := range containers {
		for _, e := range asList(get(c, "Environment")) {
			name, _ := get(e, "Name").(string)
			k, arg, _ := intrinsic(get(e, "Value"))
			param, _ := arg.(string)
			allowed, _ := tpl.Parameters[param]["AllowedValues"].([]any)
			if k != "Ref" || len(allowed) == 0 || len(reads[name].Enum) == 0 {
				continue
			}
			var offered []string
			for _, a := range allowed {
				offered = append(offered, scalarString(a))
				if !slices.Contains(reads[name].Enum, scalarString(a)) {
					t.Errorf("parameter %s allows %q, but %s (%s) accepts only %v", param, scalarString(a), name, reads[name].Field, reads[name].Enum)
				}
			}
			for _, e := range reads[name].Enum {
				if why := unoffered[name+"="+e]; why != "" {
					t.Logf("not offered by the template: %s=%s: %s", name, e, why)
					continue
				}
				if !slices.Contains(offered, e) {
					t.Errorf("%s accepts %q, which parameter %s does not offer: add it (and what it needs, e.g. IAM)", name, e, param)
				}
			}
		}
	}
	// The drain must finish before ECS's SIGKILL.
	for _, c := range containers {
		stop, _ := get(c, "StopTimeout").(float64)
		for _, e := range asList(get(c, "Environment")) {
			if get(e, "Name") == "TENANTRY_DRAIN_TIMEOUT" {
				v, _ := get(e, "Value").(string)
				var secs float64
				if _, err := fmt.Sscanf(v, "%gs", &secs); err != nil || secs >= stop {
					t.Errorf("TENANTRY_DRAIN_TIMEOUT %q must be a duration in seconds below StopTimeout %v", v, stop)
				}
			}
		}
	}
}

// GOMEMLIMIT in every task size is a value the Go runtime accepts (a number
// with a B/KiB/MiB/GiB suffix) and 75–85% of the task's memory: near the
// container's limit, but with room for what the runtime does not manage.
func TestGoMemLimitFitsTaskMemory(t *testing.T) {
	t.Parallel()
	tpl := loadTemplate(t)
	sizes, _ := tpl.Mappings["TaskSizes"].(map[string]any)
	if len(sizes) == 0 {
		t.Fatal("no TaskSizes mapping")
	}
	unit := map[string]float64{"B": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}
	for name, v := range sizes {
		size, _ := v.(map[string]any)
		limit := fmt.Sprint(size["GoMemLimit"])
		mem, err := strconv.ParseFloat(fmt.Sprint(size["Memory"]), 64)
		if err != nil {
			t.Fatalf("%s: Memory %v", name, size["Memory"])
		}
		i := strings.IndexFunc(limit, func(r rune) bool { return r < '0' || r > '9' })
		n, err := strconv.ParseFloat(limit[:max(i, 0)], 64)
		if i <= 0 || err != nil || unit[limit[i:]] == 0 {
			t.Errorf("%s: GoMemLimit %q is not a number with a B/KiB/MiB/GiB suffix", name, limit)
			continue
		}
		if frac := n * unit[limit[i:]] / (mem * (1 << 20)); frac < 0.75 || frac > 0.85 {
			t.Errorf("%s: GoMemLimit %s is %.0f%% of the task's %v MiB, want 75–85%%", name, limit, 100*frac, mem)
		}
	}
}

// branches replaces each Fn::If entry of a list by the entries of both of
// its branches (an AWS::NoValue branch adds nothing).
func branches(list []any) []any {
	var out []any
	for _, e := range list {
		k, arg, ok := intrinsic(e)
		if !ok || k != "Fn::If" {
			out = append(out, e)
			continue
		}
		for _, b := range asList(arg)[1:] {
			if bk, barg, ok := intrinsic(b); ok && bk == "Ref" && barg == "AWS::NoValue" {
				continue
			}
			out = append(out, b)
		}
	}
	return out
}
