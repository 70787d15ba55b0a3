// Package statemachinetest is a local AWS Step Functions for tests: an
// httptest server speaking the Step Functions JSON 1.0 protocol
// (StartExecution, DescribeExecution, ListExecutions, SendTaskSuccess,
// SendTaskFailure, SendTaskHeartbeat) in front of the third-party ASL
// interpreter aws-local-stepfunctions@3.0.0, which runs each execution in a
// Node 22 child process (statemachine/harness/run.mjs).
//
// The interpreter has no .waitForTaskToken: the harness mints a token per
// task delivery, registers it here, sends the task message to the real SQS
// queue, and waits here for the worker's answer — which the worker gives
// through the real aws-sdk-go-v2 sfn client pointed at this server. The
// server enforces HeartbeatSeconds and TimeoutSeconds the way Step Functions
// does (the task fails with States.HeartbeatTimeout / States.Timeout and a
// late answer is refused with TaskTimedOut), and records every API call.
//
// What it does not model is listed in docs/stepfunctions.md (redrive,
// execution history semantics, Distributed Map, IAM, payload limits).
//
// It reads TENANTRY_NODE and TENANTRY_NODE_MODULES (deploy/local/stack.sh
// env) and skips the test when either is unset. It must never be imported
// by non-test code.
package statemachinetest
