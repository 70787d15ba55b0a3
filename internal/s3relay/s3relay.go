package s3relay

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/tenantry/tenantry/internal/event"
	"go.uber.org/zap"
)

// SQSAPI is the part of *sqs.Client the relay uses.
type SQSAPI interface {
	GetQueueUrl(ctx context.Context, in *sqs.GetQueueUrlInput, opts ...func(*sqs.Options)) (*sqs.GetQueueUrlOutput, error)
	SendMessage(ctx context.Context, in *sqs.SendMessageInput, opts ...func(*sqs.Options)) (*sqs.SendMessageOutput, error)
}

// Config configures the relay.
type Config struct {
	// QueueName receives every bucket's events.
	QueueName string
	// MaxBody bounds one webhook request (default 1 MiB).
	MaxBody int64
}

// Relay is an http.Handler for the webhook.
type Relay struct {
	cfg    Config
	sqs    SQSAPI
	logger *zap.Logger
}

// New returns a relay.
func New(cfg Config, api SQSAPI, logger *zap.Logger) (*Relay, error) {
	if cfg.QueueName == "" {
		return nil, errors.New("s3relay: QueueName required")
	}
	if cfg.MaxBody == 0 {
		cfg.MaxBody = 1 << 20
	}
	if logger == nil {
		logger = zap.NewNop()
	}
	return &Relay{cfg: cfg, sqs: api, logger: logger}, nil
}

// ServeHTTP forwards one webhook post.
func (r *Relay) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, r.cfg.MaxBody+1))
	if err != nil || int64(len(body)) > r.cfg.MaxBody {
		http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
		return
	}
	msg, err := Normalize(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if msg == nil { // s3:TestEvent at startup: nothing to deliver
		w.WriteHeader(http.StatusOK)
		return
	}
	if err := r.send(req.Context(), msg); err != nil {
		r.logger.Warn("s3 event not relayed", zap.Error(err))
		http.Error(w, "queue unavailable", http.StatusServiceUnavailable)
		return
	}
	w.WriteHeader(http.StatusOK)
}

func (r *Relay) send(ctx context.Context, msg []byte) error {
	q, err := r.sqs.GetQueueUrl(ctx, &sqs.GetQueueUrlInput{QueueName: aws.String(r.cfg.QueueName)})
	if err != nil {
		return fmt.Errorf("s3relay: queue %s: %w", r.cfg.QueueName, err)
	}
	_, err = r.sqs.SendMessage(ctx, &sqs.SendMessageInput{QueueUrl: q.QueueUrl, MessageBody: aws.String(string(msg))})
	return err
}

// Normalize rewrites a webhook body into the S3 notification S3 itself would
// send to SQS: object keys URL-encoded. It returns nil for a test event.
func Normalize(body []byte) ([]byte, error) {
	var probe struct {
		Event   string           `json:"Event"`
		Records []map[string]any `json:"Records"`
	}
	if err := json.Unmarshal(body, &probe); err != nil {
		return nil, fmt.Errorf("s3relay: malformed event: %w", err)
	}
	if probe.Event == "s3:TestEvent" {
		return nil, nil
	}
	if len(probe.Records) == 0 {
		return nil, errors.New("s3relay: no records")
	}
	for _, rec := range probe.Records {
		s3, _ := rec["s3"].(map[string]any)
		obj, _ := s3["object"].(map[string]any)
		key, ok := obj["key"].(string)
		if !ok {
			return nil, errors.New("s3relay: record without s3.object.key")
		}
		obj["key"] = event.EncodeKey(key)
	}
	return json.Marshal(map[string]any{"Records": probe.Records})
}

// ListenAndServe serves the relay on addr (a loopback address) until ctx
// ends, then shuts down within five seconds.
func (r *Relay) ListenAndServe(ctx context.Context, addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: r, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	r.logger.Info("s3 relay listening", zap.String("addr", ln.Addr().String()), zap.String("queue", r.cfg.QueueName))
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
