package dlq

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// API is the part of *sqs.Client an Inspector uses.
type API interface {
	ReceiveMessage(ctx context.Context, in *sqs.ReceiveMessageInput, optFns ...func(*sqs.Options)) (*sqs.ReceiveMessageOutput, error)
	ChangeMessageVisibilityBatch(ctx context.Context, in *sqs.ChangeMessageVisibilityBatchInput, optFns ...func(*sqs.Options)) (*sqs.ChangeMessageVisibilityBatchOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// ReplayAPI is the part of *sqs.Client a Replayer uses.
type ReplayAPI interface {
	API
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, optFns ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
	DeleteMessage(ctx context.Context, in *sqs.DeleteMessageInput, optFns ...func(*sqs.Options)) (*sqs.DeleteMessageOutput, error)
	// SourceAPI finds the queue to replay to when none is given.
	SourceAPI
}

// SourceAPI is the part of *sqs.Client SourceQueues uses.
type SourceAPI interface {
	ListDeadLetterSourceQueues(ctx context.Context, in *sqs.ListDeadLetterSourceQueuesInput, optFns ...func(*sqs.Options)) (*sqs.ListDeadLetterSourceQueuesOutput, error)
	ListQueues(ctx context.Context, in *sqs.ListQueuesInput, optFns ...func(*sqs.Options)) (*sqs.ListQueuesOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

// RedriveAPI is the part of *sqs.Client a Redriver uses.
type RedriveAPI interface {
	StartMessageMoveTask(ctx context.Context, in *sqs.StartMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.StartMessageMoveTaskOutput, error)
	ListMessageMoveTasks(ctx context.Context, in *sqs.ListMessageMoveTasksInput, optFns ...func(*sqs.Options)) (*sqs.ListMessageMoveTasksOutput, error)
	CancelMessageMoveTask(ctx context.Context, in *sqs.CancelMessageMoveTaskInput, optFns ...func(*sqs.Options)) (*sqs.CancelMessageMoveTaskOutput, error)
	GetQueueAttributes(ctx context.Context, in *sqs.GetQueueAttributesInput, optFns ...func(*sqs.Options)) (*sqs.GetQueueAttributesOutput, error)
}

var (
	_ ReplayAPI  = (*sqs.Client)(nil)
	_ RedriveAPI = (*sqs.Client)(nil)
)

// unsupported reports whether err is a server's "I do not implement this
// operation" answer: AWS's UnsupportedOperation, the InvalidAction or
// UnknownOperation answers of local SQS servers (fauxqs answers
// com.amazonaws.sqs#InvalidAction), or HTTP 501.
func unsupported(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if i := strings.LastIndexByte(code, '#'); i >= 0 {
			code = code[i+1:]
		}
		code = strings.TrimPrefix(code, "AWS.SimpleQueueService.")
		switch code {
		case "UnsupportedOperation", "InvalidAction", "UnknownOperationException", "UnknownOperation", "NotImplemented":
			return true
		}
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotImplemented
}

// seconds converts d to whole seconds (rounded up) within SQS's 0..12h.
func seconds(d time.Duration) int32 {
	if d <= 0 {
		return 0
	}
	d = min(d, 12*time.Hour)
	return int32((d + time.Second - 1) / time.Second)
}

// QueueName is the last path element of a queue URL (or an ARN's last
// colon-separated part): what logs and reports show.
func QueueName(urlOrARN string) string {
	if i := strings.LastIndexByte(urlOrARN, '/'); i >= 0 {
		return urlOrARN[i+1:]
	}
	if i := strings.LastIndexByte(urlOrARN, ':'); i >= 0 {
		return urlOrARN[i+1:]
	}
	return urlOrARN
}

func isFIFO(url string) bool { return strings.HasSuffix(url, ".fifo") }
