package extract_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

// memChildEnv names the document a child process of TestExtractMemory
// extracts ("format:path", or "idle" for none).
const memChildEnv = "TENANTRY_EXTRACT_MEM_CHILD"

// TestExtractMemory measures the peak RSS of extracting large generated
// HTML and Markdown documents with ExtractTo, each in a fresh child process
// (this test binary run again, see TestMain) that reads the document from a
// file at offsets, as the worker reads an object it spooled. Opt-in, it
// asserts nothing:
//
//	TENANTRY_EXTRACT_MEM=31457280,314572800 go test -count=1 -run '^TestExtractMemory$' -v ./internal/extract
//
// TENANTRY_EXTRACT_MEM_FORMATS picks formats (default "html,md");
// TENANTRY_EXTRACT_MEM_DIR keeps the generated documents between runs (so
// two builds can be compared on the same files).
func TestExtractMemory(t *testing.T) {
	spec := os.Getenv("TENANTRY_EXTRACT_MEM")
	if spec == "" {
		t.Skip("set TENANTRY_EXTRACT_MEM=<bytes>,... to measure")
	}
	formats := strings.Split(cmpOr(os.Getenv("TENANTRY_EXTRACT_MEM_FORMATS"), "html,md"), ",")
	dir := os.Getenv("TENANTRY_EXTRACT_MEM_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	idle := memChild(t, "idle")
	t.Logf("idle child: peak RSS %d MiB", idle.rss>>20)
	for _, f := range formats {
		for _, s := range strings.Split(spec, ",") {
			size, err := strconv.Atoi(s)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(dir, fmt.Sprintf("doc-%d.%s", size, f))
			if err := generate(path, f, size); err != nil {
				t.Fatal(err)
			}
			r := memChild(t, f+":"+path)
			t.Logf("%-4s %4d MiB: peak RSS %4d MiB (idle %d MiB), %s, %.1f s, CPU %.1f s", f, size>>20, r.rss>>20, idle.rss>>20, r.out, r.seconds, r.cpu)
		}
	}
}

type memResult struct {
	rss     int64
	out     string
	seconds float64 // wall clock
	cpu     float64 // user and system CPU seconds
}

// memChild runs this test binary as a child extracting one document and
// returns its peak RSS.
func memChild(t *testing.T, spec string) memResult {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), memChildEnv+"="+spec)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	began := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("child %s: %v: %s", spec, err, out.String())
	}
	res := memResult{seconds: time.Since(began).Seconds(), cpu: (cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()).Seconds()}
	// The child's own high-water mark: the rusage of a child started with
	// vfork also counts the parent's memory before the exec.
	peak, rest, _ := strings.Cut(strings.TrimSpace(out.String()), "\n")
	kb, err := strconv.ParseInt(strings.TrimPrefix(peak, "VmHWM kB "), 10, 64)
	if err != nil {
		t.Fatalf("child %s: %q", spec, out.String())
	}
	res.rss, res.out = kb<<10, rest
	return res
}

// vmHWM returns the process's peak resident set size in kB (-1: unknown).
func vmHWM() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for line := range strings.Lines(string(b)) {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err == nil {
				return kb
			}
		}
	}
	return -1
}

// runMemChild is the child's side: extract the document named by spec and
// print what was handed over. It returns the exit code.
func runMemChild(spec string) int {
	if spec == "idle" {
		fmt.Printf("VmHWM kB %d\nidle", vmHWM())
		return 0
	}
	format, path, _ := strings.Cut(spec, ":")
	mediaType := map[string]string{"html": "text/html", "md": "text/markdown"}[format]
	f, err := os.Open(path)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		fmt.Println(err)
		return 1
	}
	e, err := extract.New(extract.Config{MaxBytes: 1 << 30, MaxDecompressedBytes: 1 << 30, MaxTextBytes: 1 << 30,
		MaxSections: 1 << 22, Timeout: time.Hour, SpoolDir: filepath.Dir(path)}, nil)
	if err != nil {
		fmt.Println(err)
		return 1
	}
	defer e.Close()
	var sections, text int
	err = e.ExtractTo(context.Background(), mediaType, io.NewSectionReader(f, 0, fi.Size()), fi.Size(), sinkOf(func(s pipeline.Section) error {
		if !s.Cont {
			sections++
		}
		text += len(s.Text)
		return nil
	}))
	if err != nil {
		fmt.Println(err)
		return 1
	}
	fmt.Printf("VmHWM kB %d\n%d sections, %d bytes of text", vmHWM(), sections, text)
	return 0
}

type sinkOf func(pipeline.Section) error

func (f sinkOf) Add(s pipeline.Section) error { return f(s) }

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

var memWords = strings.Fields("the tenant worker extracts text from each document and the chunker cuts it into " +
	"pieces of about five hundred tokens which are embedded and stored with row level security so that no " +
	"query can see another tenant's rows while the audit chain records every write in the same transaction")

// generate writes a document of about size bytes of format (html: a page
// with navigation and footer around a <main> of sections; md: headings,
// paragraphs with reference links to definitions under each heading, and
// lists) to path, unless it is already there.
func generate(path, format string, size int) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	f, err := os.Create(path + ".tmp")
	if err != nil {
		return err
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	r := rand.New(rand.NewPCG(15, 15))
	n := 0
	put := func(s string) { m, _ := w.WriteString(s); n += m }
	para := func() string {
		var b strings.Builder
		for range 3 + r.IntN(6) {
			for i := range 6 + r.IntN(15) {
				if i > 0 {
					b.WriteByte(' ')
				}
				b.WriteString(memWords[r.IntN(len(memWords))])
			}
			b.WriteString(". ")
		}
		return strings.TrimSpace(b.String())
	}
	if format == "html" {
		put("<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Memory page</title></head>\n<body>\n")
		put("<nav><ul><li><a href=\"/\">Home</a></li><li><a href=\"/docs\">Docs</a></li></ul></nav>\n<main>\n")
	} else {
		put("# Memory document\n\n")
	}
	for i := 0; n < size; i++ {
		p := para()
		switch {
		case format == "html" && i%40 == 0:
			put(fmt.Sprintf("<h2 id=\"s%d\">Section %d</h2>\n", i/40, i/40))
		case i%40 == 0:
			put(fmt.Sprintf("## Section %d\n\n[s%d]: /sections/%d\n\n", i/40, i/40, i/40))
		}
		switch {
		case format == "html":
			first, rest, _ := strings.Cut(p, " ")
			put(fmt.Sprintf("<p>%s <a href=\"#s%d\">link</a> %s</p>\n", first, i/40, rest))
		case i%10 == 5:
			for _, s := range strings.SplitN(p, ". ", 3) {
				put("- " + s + "\n")
			}
			put("\n")
		default:
			first, rest, _ := strings.Cut(p, " ")
			put(fmt.Sprintf("%s [link][s%d] %s\n\n", first, i/40, rest))
		}
	}
	if format == "html" {
		put("</main>\n<footer><p>Copyright the benchmark.</p></footer>\n</body></html>\n")
	}
	if err := w.Flush(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(path+".tmp", path)
}
