package extract_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/pipeline"
)

// TestHTMLMainContent: each kind of page furniture is dropped, and the
// content around it — including content that looks like furniture — is
// kept. Every "dropped" case fails if its rule is removed.
func TestHTMLMainContent(t *testing.T) {
	t.Parallel()
	const body = "<p>The real content.</p>"
	tests := []struct {
		name string
		in   string
		want pipeline.Extracted
	}{
		{"nav, aside, footer, form dropped", `<body><nav>Home About</nav><aside>Related</aside>` + body + `<footer>© site</footer><form><label>Search</label></form></body>`,
			doc(sec("The real content."))},
		{"page header dropped, article header kept", `<body><header>Site name</header><article><header><h1>Title</h1></header>` + body + `</article></body>`,
			doc(head("Title"), sec("The real content."))},
		{"landmark roles dropped", `<div role="navigation">Menu</div><div role="complementary">Ads</div><div role="banner">Banner</div>` + body,
			doc(sec("The real content."))},
		{"class and id names dropped", `<div class="sidebar-left">Modules</div><div id="toc">Contents</div><div class="breadcrumbs">Docs › API</div><ul class="version-picker"><li>v1</li></ul>` + body,
			doc(sec("The real content."))},
		{"skip link and permalink dropped", `<a href="#main">Skip to content</a><h2>Usage<a class="mark" href="#usage">#</a></h2>` + body,
			doc(head("Usage"), sec("The real content."))},
		{"in-page table of contents dropped", `<ul><li><a href="#a">Install</a></li><li><a href="#b">Usage</a></li></ul><h2 id="a">Install</h2>` + body,
			doc(head("Install"), sec("The real content."))},
		{"link farm dropped", `<div><a href="/a">A page</a> <a href="/b">B page</a> <a href="/c">C page</a> <a href="/d">D page</a></div>` + body,
			doc(sec("The real content."))},
		{"linked logo's alt dropped, figure's kept", `<a href="/"><img alt="Site logo"></a><figure><img alt="Throughput chart"></figure>` + body,
			doc(sec("Throughput chart\nThe real content."))},
		{"main element chosen, title kept", `<title>Doc</title><div class="menu"><a href="/x">x</a></div><p>outside</p><main>` + body + `</main>`,
			doc(head("Doc"), sec("The real content."))},
		{"content root never dropped for its name", `<div role="main" class="page-header">` + body + `</div>`,
			doc(sec("The real content."))},
		{"a wrapper named like furniture holding the page kept", `<div class="header-wrapper"><h1>T</h1><p>Long content paragraph one.</p><p>Long content paragraph two.</p></div><div>x</div>`,
			doc(head("T"), sec("Long content paragraph one.\n\nLong content paragraph two.\n\nx"))},
		{"a few links in prose kept", `<p>See <a href="/a">the guide</a> and <a href="/b">the FAQ</a> for details on configuring tenants.</p>`,
			doc(sec("See the guide and the FAQ for details on configuring tenants."))},
		{"data table with paragraphs in cells kept as rows", `<table><tr><th>Version</th><th>Changes</th></tr><tr><td>v2</td><td><p>Throws now.</p></td></tr></table>`,
			doc(sec("Version | Changes\nv2 | Throws now."))},
		{"layout table read as blocks", `<table><tr><td><ul><li><a href="/1">1</a></li><li><a href="/2">2</a></li><li><a href="/3">3</a></li><li><a href="/4">4</a></li></ul></td><td><h2>Topic</h2><p>Para one.</p><p>Para two.</p></td></tr></table>`,
			doc(head("Topic"), sec("Para one.\n\nPara two."))},
		{"two listings in one pre on separate lines", `<pre><code>import x from 'x';</code><code>const x = require('x');</code></pre>`,
			doc(sec("import x from 'x';\nconst x = require('x');"))},
		{"adjacent pre blocks apart", `<pre>a()</pre><pre>b()</pre>`, doc(sec("a()\n\nb()"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := shared(t).Extract(context.Background(), "text/html", bytes.NewReader([]byte(tt.in)), int64(len(tt.in)))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestHTMLAllFurniture: a page that is nothing but furniture has no text
// (refused as empty, not stored as navigation chunks).
func TestHTMLAllFurniture(t *testing.T) {
	t.Parallel()
	in := `<nav><a href="/">Home</a></nav><footer>` + strings.Repeat("<a href=/x>x</a>", 5) + `</footer>`
	_, err := shared(t).Extract(context.Background(), "text/html", strings.NewReader(in), int64(len(in)))
	if err == nil || pipeline.Reason(err) != "empty_document" {
		t.Fatalf("err = %v, want empty_document", err)
	}
}
