package extract_test

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tenantry/tenantry/internal/extract"
	"github.com/tenantry/tenantry/pipeline"
)

func TestTextFormats(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, declared, filename string
		in                       string
		want                     pipeline.Extracted
	}{
		{"rst underlined and overlined titles", "text/plain", "README.rst",
			"=====\nTitle\n=====\n\n.. image:: https://ci.example/badge.svg\n   :target: https://ci.example\n\nIntro text.\n\nUsage\n-----\n\n::\n\n    code here\n\n.. _target: https://example.com\n",
			doc(head("Title"), sec("Intro text."), head("Usage"), sec("::\n\n    code here"))},
		{"rst underline shorter than title is text", "text/x-rst", "", "Not a title\n---\n", doc(sec("Not a title\n---"))},
		{"asciidoc", "", "guide.adoc", "= Guide\n\nFirst para.\n\n== Install\n\nRun it.\n", doc(head("Guide"), sec("First para."), head("Install"), sec("Run it."))},
		{"org", "text/org", "notes.org", "#+TITLE: Notes\n#+OPTIONS: toc:nil\n* Top\nBody.\n** Sub\nMore.\n", doc(head("Notes"), head("Top"), sec("Body."), head("Sub"), sec("More."))},
		{"unknown text type as plain", "text/x-python", "", "def f():\n    return 1\n", doc(sec("def f():\n    return 1\n"))},
		{"yaml by extension", "application/octet-stream", "config.yaml", "a: 1\nb: [x, y]\n", doc(sec("a: 1\nb: [x, y]\n"))},
		{"json by type", "application/json", "", `{"a": "é"}`, doc(sec(`{"a": "é"}`))},
		{"go source by extension", "", "main.go", "package main\n", doc(sec("package main\n"))},
		{"log with ANSI colours", "text/plain", "app.log", "\x1b[31mERROR\x1b[0m disk full\n", doc(sec("[31mERROR[0m disk full\n"))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			mt := extract.MediaType(tt.declared, tt.filename)
			got, err := shared(t).Extract(context.Background(), mt, bytes.NewReader([]byte(tt.in)), int64(len(tt.in)))
			if err != nil {
				t.Fatalf("%s: %v", mt, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Fatalf("%s (-want +got):\n%s", mt, diff)
			}
		})
	}
}

// TestBinaryUnderTextType: bytes that are not text are refused as
// malformed ("binary content") whatever text type they were declared as.
func TestBinaryUnderTextType(t *testing.T) {
	t.Parallel()
	noise := make([]byte, 4096)
	x := uint32(2463534242)
	for i := range noise {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		noise[i] = byte(x)
		if noise[i] == 0 {
			noise[i] = 1 // no NUL: the control-character rule must catch it
		}
	}
	for _, mt := range []string{"text/plain", "text/x-rst", "text/x-unknown", "application/json", "text/plain; charset=iso-8859-1", "text/html; charset=utf-8"} {
		t.Run(mt, func(t *testing.T) {
			t.Parallel()
			_, err := shared(t).Extract(context.Background(), mt, bytes.NewReader(noise), int64(len(noise)))
			var xe *extract.Error
			if !errors.Is(err, pipeline.ErrMalformed) || !errors.As(err, &xe) || xe.Reason != "binary content" {
				t.Fatalf("err = %v, want malformed binary content", err)
			}
		})
	}
}
