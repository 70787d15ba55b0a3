// Package s3relay turns an S3-compatible server's event webhook (versitygw's
// --event-webhook-url) into real S3 notification messages on an SQS queue, so
// the local stack delivers uploads to the worker the way AWS does
// (S3 → SQS). Keys are re-encoded the way S3 encodes them in notifications
// (URL-encoding, '+' for space), because versitygw posts them raw.
//
// It is a local-stack tool: on AWS, S3 sends notifications itself.
package s3relay
