// Package statemachine owns tenantry's Step Functions definitions: the
// Amazon States Language of the document pipeline (pipeline.asl.json,
// Standard, deployed by deploy/aws; pipeline.express.asl.json, the Express
// variant), the execution input they accept (Input), and helpers to
// substitute deployment values and to read the definitions' structure.
//
// The definitions are validated with asl-validator and executed with
// aws-local-stepfunctions in this package's tests, against the real worker
// (internal/sfntask) on the local SQS/S3/Postgres stack; see
// statemachinetest and docs/stepfunctions.md.
//
// It must never: hold a tenant id outside a signed envelope, put more than
// pointers into the state (the 256 KB payload limit), or name an error the
// worker does not send.
package statemachine
