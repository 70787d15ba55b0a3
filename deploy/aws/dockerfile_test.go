package deployaws_test

// No Docker engine runs here, so the Dockerfile is held to its invariants by
// parsing it, and its build step is replayed with the local Go toolchain.

import (
	"bufio"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	Cmd   string   // upper-case keyword
	Flags []string // leading --flag=value words
	Args  string   // the rest
	Line  int
}

// stage is one FROM ... section.
type stage struct {
	Base, Name, Platform string
	Instructions         []instruction
}

type dockerfile struct {
	GlobalArgs   map[string]string // ARG before the first FROM, with defaults
	Stages       []stage
	Instructions []instruction
}

// parseDockerfile reads the subset of Dockerfile syntax the checks need:
// comments, parser directives, line continuations, leading --flags.
func parseDockerfile(data []byte) (*dockerfile, error) {
	df := &dockerfile{GlobalArgs: map[string]string{}}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var cur strings.Builder
	start, lineNo := 0, 0
	flush := func() error {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return nil
		}
		kw, rest, _ := strings.Cut(text, " ")
		ins := instruction{Cmd: strings.ToUpper(kw), Line: start}
		rest = strings.TrimSpace(rest)
		for strings.HasPrefix(rest, "--") {
			var flag string
			flag, rest, _ = strings.Cut(rest, " ")
			ins.Flags = append(ins.Flags, flag)
			rest = strings.TrimSpace(rest)
		}
		ins.Args = rest
		if !regexp.MustCompile(`^[A-Z]+$`).MatchString(ins.Cmd) {
			return fmt.Errorf("line %d: %q is not an instruction", start, kw)
		}
		df.Instructions = append(df.Instructions, ins)
		return nil
	}
	continuing := false
	for sc.Scan() {
		lineNo++
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && continuing) {
			continue // comments (and directives) and blank lines inside continuations
		}
		if !continuing {
			start = lineNo
		}
		if strings.HasSuffix(trimmed, `\`) {
			cur.WriteString(strings.TrimSuffix(trimmed, `\`) + " ")
			continuing = true
			continue
		}
		cur.WriteString(trimmed)
		continuing = false
		if err := flush(); err != nil {
			return nil, err
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if continuing {
		return nil, errors.New("file ends inside a line continuation")
	}
	if err := flush(); err != nil {
		return nil, err
	}
	for _, ins := range df.Instructions {
		switch {
		case ins.Cmd == "FROM":
			st := stage{}
			for _, f := range ins.Flags {
				if v, ok := strings.CutPrefix(f, "--platform="); ok {
					st.Platform = v
				}
			}
			words := strings.Fields(ins.Args)
			switch {
			case len(words) == 1:
				st.Base = words[0]
			case len(words) == 3 && strings.EqualFold(words[1], "AS"):
				st.Base, st.Name = words[0], words[2]
			default:
				return nil, fmt.Errorf("line %d: FROM %q", ins.Line, ins.Args)
			}
			df.Stages = append(df.Stages, st)
		case len(df.Stages) == 0:
			if ins.Cmd != "ARG" {
				return nil, fmt.Errorf("line %d: %s before the first FROM", ins.Line, ins.Cmd)
			}
			name, def, _ := strings.Cut(ins.Args, "=")
			df.GlobalArgs[name] = def
		default:
			st := &df.Stages[len(df.Stages)-1]
			st.Instructions = append(st.Instructions, ins)
		}
	}
	if len(df.Stages) == 0 {
		return nil, errors.New("no FROM")
	}
	return df, nil
}

// args returns the ARG defaults declared in a stage.
func (s stage) args() map[string]string {
	out := map[string]string{}
	for _, ins := range s.Instructions {
		if ins.Cmd == "ARG" {
			name, def, _ := strings.Cut(ins.Args, "=")
			out[name] = def
		}
	}
	return out
}

func (s stage) find(cmd string) []instruction {
	var out []instruction
	for _, ins := range s.Instructions {
		if ins.Cmd == cmd {
			out = append(out, ins)
		}
	}
	return out
}

// shellWords splits a shell command line into words: whitespace separates,
// single quotes are literal, double quotes group and expand; $NAME and
// ${NAME} expand from vars (an unknown variable is an error).
func shellWords(s string, vars map[string]string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord, quote := false, rune(0)
	rs := []rune(s)
	for i := 0; i < len(rs); i++ {
		c := rs[i]
		switch {
		case quote == '\'':
			if c == '\'' {
				quote = 0
			} else {
				cur.WriteRune(c)
			}
		case c == '\'' || c == '"':
			if quote == c {
				quote = 0
			} else if quote == 0 {
				quote, inWord = c, true
			} else {
				cur.WriteRune(c)
			}
		case c == '\\' && i+1 < len(rs):
			i++
			cur.WriteRune(rs[i])
			inWord = true
		case c == '$':
			name := ""
			if i+1 < len(rs) && rs[i+1] == '{' {
				end := slices.Index(rs[i+2:], '}')
				if end < 0 {
					return nil, errors.New("unterminated ${")
				}
				name = string(rs[i+2 : i+2+end])
				i += 2 + end
			} else {
				j := i + 1
				for j < len(rs) && (rs[j] == '_' || rs[j] >= 'A' && rs[j] <= 'Z' || rs[j] >= 'a' && rs[j] <= 'z' || rs[j] >= '0' && rs[j] <= '9') {
					j++
				}
				name = string(rs[i+1 : j])
				i = j - 1
			}
			v, ok := vars[name]
			if !ok || name == "" {
				return nil, fmt.Errorf("unknown variable $%s", name)
			}
			cur.WriteString(v)
			inWord = true
		case quote == 0 && (c == ' ' || c == '\t' || c == '\n'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case quote == 0 && strings.ContainsRune(";&|<>`", c):
			return nil, fmt.Errorf("shell operator %q: keep the build step a single command", c)
		default:
			cur.WriteRune(c)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unterminated quote")
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words, nil
}

// goBuild is the go build step of the Dockerfile's build stage.
type goBuild struct {
	Env    map[string]string // VAR=value words before the command, and ENV
	Args   []string          // arguments after "go build", -o removed
	Output string            // the -o path
	Pkg    string            // the package built
}

// pdfiumStep finds the stage that compiles PDFium and returns its exec-form
// RUN argv: [binary "pdfium" "compile" "--dir" DIR].
func (df *dockerfile) pdfiumStep() (*stage, []string, error) {
	for i := range df.Stages {
		st := &df.Stages[i]
		for _, run := range st.find("RUN") {
			if !strings.Contains(run.Args, "pdfium") {
				continue
			}
			var argv []string
			if err := json.Unmarshal([]byte(run.Args), &argv); err != nil {
				return nil, nil, fmt.Errorf("line %d: the PDFium step must be the exec form (the image has no shell): %w", run.Line, err)
			}
			if len(argv) != 5 || !slices.Equal(argv[1:4], []string{"pdfium", "compile", "--dir"}) {
				return nil, nil, fmt.Errorf("line %d: want [binary, \"pdfium\", \"compile\", \"--dir\", dir], have %q", run.Line, argv)
			}
			return st, argv, nil
		}
	}
	return nil, nil, errors.New("no stage compiles PDFium")
}

func loadDockerfile(t *testing.T) *dockerfile {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	df, err := parseDockerfile(data)
	if err != nil {
		t.Fatalf("Dockerfile: %v", err)
	}
	return df
}

// buildStep finds the stage that runs `go build` and parses that step with
// the given ARG values.
func (df *dockerfile) buildStep(vars map[string]string) (*stage, *goBuild, error) {
	for i := range df.Stages {
		st := &df.Stages[i]
		for _, run := range st.find("RUN") {
			if !strings.Contains(run.Args, "go build") {
				continue
			}
			all := map[string]string{}
			for k, v := range df.GlobalArgs {
				all[k] = v
			}
			for k, v := range st.args() {
				all[k] = v
			}
			for k, v := range vars {
				all[k] = v
			}
			words, err := shellWords(run.Args, all)
			if err != nil {
				return nil, nil, fmt.Errorf("line %d: %w", run.Line, err)
			}
			gb := &goBuild{Env: map[string]string{}}
			for _, env := range st.find("ENV") {
				ws, err := shellWords(env.Args, all)
				if err != nil {
					return nil, nil, err
				}
				for _, w := range ws {
					k, v, ok := strings.Cut(w, "=")
					if !ok {
						return nil, nil, fmt.Errorf("line %d: use ENV KEY=value", env.Line)
					}
					gb.Env[k] = v
				}
			}
			for len(words) > 0 && strings.Contains(words[0], "=") {
				k, v, _ := strings.Cut(words[0], "=")
				gb.Env[k] = v
				words = words[1:]
			}
			if len(words) < 3 || words[0] != "go" || words[1] != "build" {
				return nil, nil, fmt.Errorf("line %d: the build step must be a single `go build` command", run.Line)
			}
			rest := words[2:]
			for j := 0; j < len(rest); j++ {
				if rest[j] == "-o" && j+1 < len(rest) {
					gb.Output = rest[j+1]
					j++
					continue
				}
				gb.Args = append(gb.Args, rest[j])
			}
			if len(gb.Args) > 0 {
				gb.Pkg = gb.Args[len(gb.Args)-1]
			}
			return st, gb, nil
		}
	}
	return nil, nil, errors.New("no stage runs go build")
}

func TestDockerfileInvariants(t *testing.T) {
	t.Parallel()
	df := loadDockerfile(t)
	if len(df.Stages) < 2 {
		t.Fatalf("%d stages; build and runtime must be separate stages", len(df.Stages))
	}
	build, gb, err := df.buildStep(map[string]string{"VERSION": "v0.0.0-test", "TARGETOS": "linux", "TARGETARCH": "arm64"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(build.Base, "golang:") {
		t.Errorf("build stage FROM %s, want an official golang image", build.Base)
	}
	if build.Platform != "$BUILDPLATFORM" {
		t.Errorf("build stage platform %q: cross-compile from $BUILDPLATFORM instead of emulating", build.Platform)
	}
	if build.Name == "" {
		t.Error("the build stage needs a name for COPY --from")
	}
	want := map[string]string{"CGO_ENABLED": "0", "GOOS": "linux", "GOARCH": "arm64", "GOTOOLCHAIN": "local"}
	for k, v := range want {
		if gb.Env[k] != v {
			t.Errorf("build env %s=%q, want %q", k, gb.Env[k], v)
		}
	}
	if !slices.Contains(gb.Args, "-trimpath") {
		t.Error("go build without -trimpath")
	}
	ldflags := ""
	for i, a := range gb.Args {
		if a == "-ldflags" && i+1 < len(gb.Args) {
			ldflags = gb.Args[i+1]
		}
	}
	for _, f := range []string{"-s", "-w", "-X main.version=v0.0.0-test"} {
		if !strings.Contains(" "+ldflags+" ", " "+f+" ") {
			t.Errorf("-ldflags %q lacks %s", ldflags, f)
		}
	}
	if gb.Pkg != "./cmd/tenantry" {
		t.Errorf("builds %q, want ./cmd/tenantry", gb.Pkg)
	}
	// The Go version of the image is the one go.mod asks for.
	gomod, err := os.ReadFile(filepath.Join(repoRoot(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if m == nil || df.GlobalArgs["GO_VERSION"] != string(m[1]) {
		t.Errorf("ARG GO_VERSION=%s, go.mod says go %s (GOTOOLCHAIN=local would refuse an older image)", df.GlobalArgs["GO_VERSION"], m[1])
	}

	final := df.Stages[len(df.Stages)-1]
	if final.Base != "gcr.io/distroless/static-debian12:nonroot" && final.Base != "scratch" {
		t.Errorf("runtime stage FROM %s, want distroless/static (nonroot) or scratch", final.Base)
	}
	users := final.find("USER")
	if len(users) == 0 {
		t.Error("runtime stage has no USER")
	} else if u := users[len(users)-1].Args; u == "" || strings.HasPrefix(u, "0") || strings.HasPrefix(u, "root") {
		t.Errorf("USER %s, want a non-root uid", u)
	}
	if len(final.find("ADD")) > 0 || len(final.find("RUN")) > 0 {
		t.Error("the runtime stage only copies the binary and the compiled PDFium (no ADD, no RUN: there is no shell)")
	}
	copies := final.find("COPY")
	if len(copies) != 2 || !slices.Contains(copies[0].Flags, "--from="+build.Name) {
		t.Fatalf("runtime stage must COPY the binary from %s, then the compiled PDFium, has %v", build.Name, copies)
	}
	src, dst, _ := strings.Cut(copies[0].Args, " ")
	if src != gb.Output {
		t.Errorf("COPY %s, but go build writes %s", src, gb.Output)
	}
	// The compiled PDFium: made by the shipped binary in a stage on the
	// target platform, copied where TENANTRY_PDF_SEED_DIR points.
	seed, compile, err := df.pdfiumStep()
	if err != nil {
		t.Fatal(err)
	}
	if seed.Platform != "" || seed.Base != final.Base {
		t.Errorf("PDFium stage FROM --platform=%q %s: it must run on the target platform, on the runtime image", seed.Platform, seed.Base)
	}
	if sc := seed.find("COPY"); len(sc) != 1 || sc[0].Args != copies[0].Args || !slices.Contains(sc[0].Flags, "--from="+build.Name) {
		t.Errorf("PDFium stage must COPY the same binary as the runtime stage (%s), has %v", copies[0].Args, sc)
	}
	if path.Clean(compile[0]) != path.Clean(dst) {
		t.Errorf("PDFium is compiled by %s, but the image ships %s", compile[0], dst)
	}
	seedSrc, seedDst, _ := strings.Cut(copies[1].Args, " ")
	if !slices.Contains(copies[1].Flags, "--from="+seed.Name) || path.Clean(seedSrc) != path.Clean(compile[len(compile)-1]) {
		t.Errorf("COPY %v %s: want --from=%s of the directory compiled into, %s", copies[1].Flags, copies[1].Args, seed.Name, compile[len(compile)-1])
	}
	if env := final.find("ENV"); len(env) != 1 || env[0].Args != "TENANTRY_PDF_SEED_DIR="+seedDst {
		t.Errorf("runtime ENV %v: want TENANTRY_PDF_SEED_DIR=%s", env, seedDst)
	}
	entry := final.find("ENTRYPOINT")
	var argv []string
	if len(entry) != 1 || json.Unmarshal([]byte(entry[0].Args), &argv) != nil || len(argv) != 1 {
		t.Fatalf("ENTRYPOINT must be the exec form [\"binary\"], is %v", entry)
	}
	if path.Clean(argv[0]) != path.Clean(dst) {
		t.Errorf("ENTRYPOINT %s, but the binary is copied to %s", argv[0], dst)
	}
	for _, ins := range append(final.find("ENV"), append(build.find("ENV"), final.find("ARG")...)...) {
		if regexp.MustCompile(`(?i)(password|secret|token|key)`).MatchString(ins.Args) {
			t.Errorf("line %d: %s %s looks like a secret baked into the image", ins.Line, ins.Cmd, ins.Args)
		}
	}
	// The port the task definition maps is the one the image exposes.
	tpl := loadTemplate(t)
	port := get(asList(get(asList(get(tpl.props("WorkerTaskDefinition"), "ContainerDefinitions"))[0], "PortMappings"))[0], "ContainerPort")
	if exp := final.find("EXPOSE"); len(exp) != 1 || exp[0].Args != fmt.Sprint(port) {
		t.Errorf("EXPOSE %v, task definition maps %v", exp, port)
	}
	// distroless has no shell or curl: the health check must be the exec
	// form of the binary's own probe, on the exposed port.
	hc := final.find("HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("want one HEALTHCHECK, have %d", len(hc))
	}
	_, cmd, ok := strings.Cut(hc[0].Args, "CMD ")
	var hargv []string
	if !ok || json.Unmarshal([]byte(strings.TrimSpace(cmd)), &hargv) != nil || len(hargv) < 2 || path.Clean(hargv[0]) != path.Clean(dst) || hargv[1] != "health" {
		t.Errorf("HEALTHCHECK must be CMD [\"%s\", \"health\", ...] (exec form, no shell), is %q", dst, hc[0].Args)
	}
	if !strings.Contains(hc[0].Args, fmt.Sprintf(":%v/readyz", port)) {
		t.Errorf("HEALTHCHECK does not probe /readyz on port %v: %q", port, hc[0].Args)
	}
}

// TestDockerignoreKeepsContextSmall: the build context holds the sources the
// binary needs, and none of the local stack, VCS or editor state.
func TestDockerignoreKeepsContextSmall(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	data, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var patterns []string
	for _, l := range strings.Split(string(data), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			if strings.HasPrefix(l, "!") {
				t.Errorf(".dockerignore exception %q: keep the file a plain deny list", l)
			}
			patterns = append(patterns, l)
		}
	}
	ignored := func(rel string) bool {
		for _, p := range patterns {
			p = strings.TrimPrefix(p, "**/")
			for dir := rel; dir != "." && dir != "/"; dir = path.Dir(dir) {
				if ok, _ := path.Match(p, dir); ok {
					return true
				}
				if ok, _ := path.Match(p, path.Base(dir)); ok && strings.HasPrefix(strings.TrimSpace(p), "node_modules") {
					return true
				}
			}
		}
		return false
	}
	for _, must := range []string{".git", ".stack", ".stack/aws-validators", "deploy/local/node_modules", "tenantry", "worker.test"} {
		if !ignored(must) {
			t.Errorf(".dockerignore lets %s into the build context", must)
		}
	}
	// Everything cmd/tenantry compiles or embeds must stay in the context.
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go tool")
	}
	cmd := exec.Command("go", "list", "-deps", "-f", `{{if .Module}}{{if .Module.Main}}{{.Dir}}|{{join .EmbedFiles ","}}{{end}}{{end}}`, "./cmd/tenantry")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Skipf("cmd/tenantry does not list yet: %s", ee.Stderr)
		}
		t.Fatal(err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		dir, embeds, _ := strings.Cut(line, "|")
		rel, err := filepath.Rel(root, dir)
		if err != nil || line == "" {
			continue
		}
		rel = filepath.ToSlash(rel)
		if ignored(rel) {
			t.Errorf(".dockerignore drops %s, which cmd/tenantry compiles", rel)
		}
		for _, e := range strings.Split(embeds, ",") {
			if e != "" && ignored(path.Join(rel, e)) {
				t.Errorf(".dockerignore drops %s/%s, which cmd/tenantry embeds", rel, e)
			}
		}
	}
}

// TestBinaryBuildsLikeTheDockerfile replays the Dockerfile's go build step
// (same environment, same flags) for this machine's architecture and checks
// the result is static and reports the version it was given.
func TestBinaryBuildsLikeTheDockerfile(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("builds the whole binary")
	}
	df := loadDockerfile(t)
	version := "v0.0.0-deploytest"
	_, gb, err := df.buildStep(map[string]string{"VERSION": version, "TARGETOS": runtime.GOOS, "TARGETARCH": runtime.GOARCH})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "tenantry")
	args := append([]string{"build"}, gb.Args[:len(gb.Args)-1]...)
	args = append(args, "-o", out, gb.Pkg)
	cmd := exec.Command("go", args...)
	cmd.Dir = repoRoot(t)
	cmd.Env = os.Environ()
	for k, v := range gb.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cmd/tenantry does not build at the moment (go %s): %v\n%s", strings.Join(args, " "), err, msg)
	}
	f, err := elf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Error("the binary has a dynamic loader (PT_INTERP): not static")
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		t.Errorf("the binary needs shared libraries %v", libs)
	}
	if f.Section(".symtab") != nil {
		t.Error("symbol table present: -s did not strip it")
	}
	got, err := exec.Command(out, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("tenantry version: %v: %s", err, got)
	}
	if !strings.Contains(string(got), version) {
		t.Errorf("tenantry version printed %q, want it to contain %s", got, version)
	}
	// The PDFium step, replayed with this binary into a temporary directory:
	// it leaves compiled code there.
	_, argv, err := df.pdfiumStep()
	if err != nil {
		t.Fatal(err)
	}
	seedDir := filepath.Join(t.TempDir(), "pdfium")
	got, err = exec.Command(out, append(argv[1:len(argv)-1], seedDir)...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s: %v: %s", strings.Join(argv, " "), err, got)
	}
	if ents, err := os.ReadDir(seedDir); err != nil || len(ents) == 0 {
		t.Errorf("%s left nothing in %s (%v): %s", strings.Join(argv, " "), seedDir, err, got)
	}
	// -trimpath: no path of this machine is baked in.
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(data, []byte(repoRoot(t))) {
		t.Errorf("the binary contains the build directory %s: -trimpath missing", repoRoot(t))
	}
}
