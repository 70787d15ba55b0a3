package harness_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/tenantry/tenantry/internal/chaos/harness"
	"github.com/tenantry/tenantry/internal/extract"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	text := `# HELP tenantry_stage_seconds Time per pipeline stage.
# TYPE tenantry_stage_seconds histogram
tenantry_stage_seconds_bucket{stage="embed",le="0.0005"} 0
tenantry_stage_seconds_sum{stage="embed"} 1.5
tenantry_stage_seconds_count{stage="embed"} 3
tenantry_stage_seconds_sum{stage="store"} 2.25
tenantry_worker_in_flight{runner="documents"} 4
process_resident_memory_bytes 1.2e+08
weird{label="a } b"} 7 1700000000000
garbage line
`
	m := harness.ParseMetrics(text)
	tests := []struct {
		name string
		got  float64
		want float64
	}{
		{"one sample", m[`tenantry_stage_seconds_sum{stage="embed"}`], 1.5},
		{"no labels, exponent", m["process_resident_memory_bytes"], 1.2e8},
		{"sum over label sets", m.Sum("tenantry_stage_seconds_sum"), 3.75},
		{"sum with a match", m.Sum("tenantry_stage_seconds_sum", `stage="store"`), 2.25},
		{"gauge", m.Sum("tenantry_worker_in_flight"), 4},
		{"timestamp ignored", m[`weird{label="a } b"}`], 7},
		{"absent", m.Sum("nope"), 0},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("%s: got %v, want %v", tt.name, tt.got, tt.want)
		}
	}
}

func TestQuantile(t *testing.T) {
	t.Parallel()
	m := harness.ParseMetrics(`h_bucket{outcome="success",le="0.1"} 50
h_bucket{outcome="success",le="0.5"} 90
h_bucket{outcome="success",le="+Inf"} 100
h_bucket{outcome="failure",le="0.1"} 0
h_bucket{outcome="failure",le="0.5"} 0
h_bucket{outcome="failure",le="+Inf"} 100
`)
	tests := []struct {
		q     float64
		match []string
		want  float64
	}{
		{0.5, []string{`outcome="success"`}, 0.1},
		{0.9, []string{`outcome="success"`}, 0.5},
		{0.99, []string{`outcome="success"`}, math.Inf(1)},
		{0.25, nil, 0.1},
		{0.45, nil, 0.5},
		{0.5, nil, math.Inf(1)},
		{0.5, []string{`outcome="nope"`}, 0},
	}
	for _, tt := range tests {
		if got := m.Quantile("h", tt.q, tt.match...); got != tt.want {
			t.Errorf("q%v %v: got %v, want %v", tt.q, tt.match, got, tt.want)
		}
	}
}

func TestTextIsDeterministicAndSized(t *testing.T) {
	t.Parallel()
	for _, size := range []int{10, 1 << 10, 64 << 10} {
		a := harness.Text(rand.New(rand.NewPCG(1, 1)), size)
		b := harness.Text(rand.New(rand.NewPCG(1, 1)), size)
		if !bytes.Equal(a, b) {
			t.Fatalf("size %d: not deterministic", size)
		}
		if len(a) < size || len(a) > size+4096 {
			t.Fatalf("size %d: got %d bytes", size, len(a))
		}
	}
}

func TestVersionIsTheContentHash(t *testing.T) {
	t.Parallel()
	if v := harness.Version([]byte("abc")); v != "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
		t.Fatalf("version %s", v)
	}
}

// The PDFs the benchmarks and hostile tests use are read by the product's
// extractor, page by page.
func TestPDFExtracts(t *testing.T) {
	t.Parallel()
	ex, err := extract.New(extract.Config{PDFCacheDir: filepath.Join(os.TempDir(), "tenantry-test-pdfium-cache")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	pdf := harness.PDF([][]string{{"First page (with parentheses)", "second line"}, {`back\slash on page two`}, nil})
	out, err := ex.Extract(context.Background(), extract.TypePDF, bytes.NewReader(pdf), int64(len(pdf)))
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	pages := map[int]bool{}
	for _, s := range out.Sections {
		all = append(all, s.Text)
		pages[s.Page] = true
	}
	text := strings.Join(all, "\n")
	for _, want := range []string{"First page (with parentheses)", "second line", `back\slash on page two`} {
		if !strings.Contains(text, want) {
			t.Errorf("extracted text lacks %q:\n%s", want, text)
		}
	}
	if !pages[1] || !pages[2] {
		t.Errorf("pages seen %v, want 1 and 2", pages)
	}
}

func TestProcCPU(t *testing.T) {
	t.Parallel()
	before, err := harness.ProcCPU(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for x := 0; ; x++ { // burn a little CPU
		after, err := harness.ProcCPU(os.Getpid())
		if err != nil {
			t.Fatal(err)
		}
		if after > before {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("CPU time did not advance from %v", before)
		}
		_ = sha256.Sum256([]byte(strconv.Itoa(x)))
	}
}

func ExampleParseMetrics() {
	m := harness.ParseMetrics("tenantry_stage_seconds_sum{stage=\"store\"} 2.5\ntenantry_stage_seconds_sum{stage=\"embed\"} 0.5\n")
	fmt.Println(m.Sum("tenantry_stage_seconds_sum"), m.Sum("tenantry_stage_seconds_sum", `stage="store"`))
	// Output: 3 2.5
}
