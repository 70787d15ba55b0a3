// Package sfnlambda runs the Express state machine's tasks as an AWS Lambda
// function. Express workflows cannot wait for task tokens, so their task
// states invoke the worker synchronously (statemachine/pipeline.express.asl.json,
// ${TaskFunctionArn}); this package connects sfntask.Handler.Invoke to the
// Lambda Runtime API through aws-lambda-go. It owns only that mapping: a
// task's output becomes the function's response, a task's failure the
// function error whose type is the failure's name (Tenantry.Permanent,
// Tenantry.Transient, ...), so the definition's Retry and Catch match it.
package sfnlambda

import (
	"context"
	"encoding/json"

	"github.com/aws/aws-lambda-go/lambda"
	"github.com/aws/aws-lambda-go/lambda/messages"

	"github.com/tenantry/tenantry/internal/sfntask"
)

// Invoker runs one task synchronously (*sfntask.Handler does).
type Invoker interface {
	Invoke(ctx context.Context, payload []byte) (json.RawMessage, *sfntask.Failure)
}

var _ Invoker = (*sfntask.Handler)(nil)

// Handler returns the function Lambda calls for each invocation: the task's
// output, or an error whose Lambda error type is the failure's name and
// whose message is its cause (stage and reason code; never document text
// or tokens).
func Handler(inv Invoker) func(context.Context, json.RawMessage) (json.RawMessage, error) {
	return func(ctx context.Context, payload json.RawMessage) (json.RawMessage, error) {
		out, f := inv.Invoke(ctx, payload)
		if f != nil {
			return nil, messages.InvokeResponse_Error{Type: f.Name, Message: f.CauseJSON()}
		}
		return out, nil
	}
}

// Start serves invocations from the Lambda Runtime API at
// $AWS_LAMBDA_RUNTIME_API with ctx as every invocation's base context. It
// does not return: aws-lambda-go ends the process when the Runtime API goes
// away, and Lambda starts a new one.
func Start(ctx context.Context, inv Invoker) {
	lambda.StartWithOptions(Handler(inv), lambda.WithContext(ctx))
}
