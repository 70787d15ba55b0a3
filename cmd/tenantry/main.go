// Command tenantry is the worker, migration tool and operator CLI of tenantry.
// It is thin: flags and environment are parsed here, then libraries run.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/alecthomas/kong"
	"go.uber.org/zap"

	"github.com/tenantry/tenantry/internal/exitcode"
	"github.com/tenantry/tenantry/internal/service"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// Globals are available to every subcommand's Run method.
type Globals struct {
	LogLevel string `name:"log-level" env:"TENANTRY_LOG_LEVEL" default:"info" enum:"debug,info,warn,error" help:"Log level."`
	LogJSON  bool   `name:"log-json" env:"TENANTRY_LOG_JSON" default:"true" negatable:"" help:"Log as JSON (zap production encoder)."`

	ctx    context.Context
	logger *zap.Logger
}

// Context is cancelled on SIGINT/SIGTERM.
func (g *Globals) Context() context.Context { return g.ctx }

// Logger is the process logger.
func (g *Globals) Logger() *zap.Logger { return g.logger }

// CLI is the command tree. Each subcommand lives in its own file.
type CLI struct {
	Globals

	Version  VersionCmd  `cmd:"" help:"Print the version."`
	Migrate  MigrateCmd  `cmd:"" help:"Apply the database schema (as the owner role)."`
	Audit    AuditCmd    `cmd:"" help:"Verify, anchor and export the per-tenant audit hash chains."`
	Support  SupportCmd  `cmd:"" help:"Audited support access to one tenant's data (grant, revoke, list, read)."`
	Worker   WorkerCmd   `cmd:"" help:"Run the document worker (SQS → verify envelope → pipeline → pgvector)."`
	Lambda   LambdaCmd   `cmd:"" help:"Serve the Express state machine's tasks as an AWS Lambda function (Runtime API at $AWS_LAMBDA_RUNTIME_API)."`
	Search   SearchCmd   `cmd:"" help:"Tenant-scoped semantic search; the tenant comes from a signed envelope (act=search)."`
	API      APICmd      `cmd:"" name:"api" help:"Serve the search API (POST /v1/search, GET /healthz); envelope or OIDC/Cognito token auth."`
	Console  ConsoleCmd  `cmd:"" help:"Serve the operator console (OIDC sign-in; per-tenant views; audited actions)."`
	Demo     DemoCmd     `cmd:"" help:"Run the end-to-end demo on the local stack (make demo)."`
	Dev      DevCmd      `cmd:"" help:"Local-stack helpers." hidden:""`
	Envelope EnvelopeCmd `cmd:"" help:"Envelope keys, signing and verification (keygen, sign, verify, jwks)."`
	Presign  PresignCmd  `cmd:"" help:"Print a presigned S3 PUT URL that carries a signed envelope."`
	Upload   UploadCmd   `cmd:"" help:"Upload a file through a presigned URL with a signed envelope."`
	DLQ      DLQCmd      `cmd:"" name:"dlq" help:"Inspect and replay dead-letter queues (inspect, replay, redrive)."`
	Sfn      SfnCmd      `cmd:"" help:"Step Functions pipeline: start executions, redrive failed ones, replay Express failures."`
	Tenant   TenantCmd   `cmd:"" help:"Per-tenant circuit breakers and dispatch limits: pause, resume, status, limits (owner role)."`
	Health   HealthCmd   `cmd:"" help:"Probe the ops endpoint (the container health check): exit 0 ready, 1 not ready, 4 not answering."`
	PDFium   PDFiumCmd   `cmd:"" name:"pdfium" help:"Compile the PDF engine ahead of time (compile --dir), for the container image."`
}

// VersionCmd prints the build version.
type VersionCmd struct{}

// Run prints the version.
func (VersionCmd) Run(*Globals) error {
	fmt.Println("tenantry", version)
	return nil
}

func main() {
	var cli CLI
	parser, err := kong.New(&cli,
		kong.Name("tenantry"),
		kong.Description("Tenant-scoped document ingestion for multi-tenant RAG on AWS. Exit codes: 0 ok, 1 failure, 2 usage, 3 refused (verification failed), 4 unreachable."),
		kong.UsageOnError(),
		kong.Vars{"version": version},
		kong.Exit(func(code int) {
			if code == kongUsageError {
				code = exitcode.Usage
			}
			os.Exit(code)
		}),
	)
	if err != nil {
		panic(err) // the command tree itself is wrong: a bug, caught by the tests
	}
	args, jsonUsed := rewriteArgs(os.Args[1:])
	kctx, err := parser.Parse(args)
	parser.FatalIfErrorf(err)
	warnDeprecated(os.Stderr, kctx, args, jsonUsed)
	logger, err := service.NewLogger(cli.LogLevel, cli.LogJSON)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantry:", err)
		os.Exit(exitcode.Usage)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	cli.ctx, cli.logger = ctx, logger
	err = kctx.Run(&cli.Globals)
	stop()
	_ = logger.Sync()
	if err != nil {
		fmt.Fprintln(os.Stderr, "tenantry:", err)
		os.Exit(exitcode.Of(err))
	}
}

// kongUsageError is the status kong exits with on a parse error.
const kongUsageError = 80
