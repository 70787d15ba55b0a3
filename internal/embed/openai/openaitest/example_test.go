package openaitest_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/tenantry/tenantry/internal/embed"
	"github.com/tenantry/tenantry/internal/embed/openai"
	"github.com/tenantry/tenantry/internal/embed/openai/openaitest"
	"github.com/tenantry/tenantry/pipeline"
)

func ExampleNew() {
	// A provider that answers 503 to every other request.
	srv := openaitest.New(openaitest.Options{Dims: 4, Faults: func(n int) *openaitest.Fault {
		if n%2 == 1 {
			return &openaitest.Fault{Status: 503}
		}
		return nil
	}})
	defer srv.Close()
	c, _ := openai.New(openai.Config{BaseURL: srv.URL, Model: "m", Dimensions: 4})
	e, _ := embed.New(c, embed.Config{BaseBackoff: time.Millisecond, MaxBackoff: time.Millisecond}, nil)
	_, err := e.Embed(context.Background(), []string{"a"})
	var te *pipeline.TransientError
	fmt.Println(err, errors.As(err, &te), srv.Stats().Requests)
	// Output: <nil> false 2
}
