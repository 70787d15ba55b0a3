package telemetry

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/aws"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"go.opentelemetry.io/otel/propagation"
)

// InjectSQS adds the trace context of ctx to an SQS message's attributes
// (String attributes traceparent and, if set, tracestate); attrs may be nil.
// Nothing is added when ctx carries no sampled or remote span.
func InjectSQS(ctx context.Context, attrs map[string]sqstypes.MessageAttributeValue) map[string]sqstypes.MessageAttributeValue {
	c := propagation.MapCarrier{}
	Propagator().Inject(ctx, c)
	if len(c) == 0 {
		return attrs
	}
	if attrs == nil {
		attrs = map[string]sqstypes.MessageAttributeValue{}
	}
	for k, v := range c {
		attrs[k] = sqstypes.MessageAttributeValue{DataType: aws.String("String"), StringValue: aws.String(v)}
	}
	return attrs
}

// Inject writes the trace context of ctx into m (Step Functions input's
// trace object, a relayed event's attributes); m must not be nil.
func Inject(ctx context.Context, m map[string]string) {
	Propagator().Inject(ctx, propagation.MapCarrier(m))
}

// Extract returns ctx carrying the remote trace context found in m (message
// attributes, the trace object of Step Functions input). A missing or
// malformed context leaves ctx as it is: the work starts a new trace.
func Extract(ctx context.Context, m map[string]string) context.Context {
	if len(m) == 0 {
		return ctx
	}
	return Propagator().Extract(ctx, propagation.MapCarrier(m))
}
