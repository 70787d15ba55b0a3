package output_test

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/tenantry/tenantry/internal/output"
)

func TestWrite(t *testing.T) {
	t.Parallel()
	v := struct {
		Key     string         `json:"key"`
		Bytes   int            `json:"bytes"`
		Headers map[string]any `json:"headers"`
		HTML    string         `json:"html"`
	}{"t/d/a&b.pdf", 42, map[string]any{"Content-Type": "text/plain"}, "<b>"}
	for _, tc := range []struct {
		f    output.Format
		want string
	}{
		{output.JSON, "{\n  \"key\": \"t/d/a&b.pdf\",\n  \"bytes\": 42,\n  \"headers\": {\n    \"Content-Type\": \"text/plain\"\n  },\n  \"html\": \"<b>\"\n}\n"},
		{output.Table, "key      t/d/a&b.pdf\nbytes    42\nheaders  {\"Content-Type\":\"text/plain\"}\nhtml     <b>\n"},
	} {
		var b bytes.Buffer
		if err := output.Write(&b, tc.f, v); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("%s:\n%s\nwant\n%s", tc.f, b.String(), tc.want)
		}
	}
}

func TestSnakeCaseViolations(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		doc  string
		pass []string
		want []string
	}{
		{"clean lines", `{"type":"message","tenant_id":"x","n":[{"a_b":1}]}` + "\n" + `{"summary":{"scanned":1}}`, nil, nil},
		{"camel", `{"executionArn":"a","ok":{"newExecutionArn":"b"}}`, nil, []string{"executionArn", "ok.newExecutionArn"}},
		{"pascal in a list", `{"summary":[{"Scanned":1}]}`, nil, []string{"summary[].Scanned"}},
		{"pass-through", `{"headers":{"Content-Type":["x"]},"attributes":{"Team":"a"}}`, []string{"headers", "attributes"}, []string{}},
	} {
		got, err := output.SnakeCaseViolations([]byte(tc.doc), tc.pass...)
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(got)
		if len(got) != len(tc.want) || (len(got) > 0 && !slices.Equal(got, tc.want)) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
	if _, err := output.SnakeCaseViolations([]byte(`{"a":`)); err == nil {
		t.Error("truncated JSON accepted")
	}
}

func ExampleWrite() {
	res := map[string]any{"bucket": "uploads", "key": "t/d/a.pdf"}
	_ = output.Write(os.Stdout, output.Table, res)
	_ = output.Write(os.Stdout, output.JSON, res)
	fmt.Println(output.Format("json").IsJSON())
	// Output:
	// bucket  uploads
	// key     t/d/a.pdf
	// {
	//   "bucket": "uploads",
	//   "key": "t/d/a.pdf"
	// }
	// true
}
