// Package deployaws is tenantry's AWS deployment: the CloudFormation template
// (template.yaml), its validator packages (package.json, installed by
// install-validators.sh) and the tests that hold both to the code.
//
// It owns the template and its checks: references and parameter constraints,
// the IAM actions of every role against the IAMActions lists the Go packages
// declare next to their AWS calls, the envelope key policies, the AWS Control
// Tower proactive controls (cfn-guard) and the AWS resource specification. It
// also checks the repository's Dockerfile and builds the binary the way the
// Dockerfile does.
//
// It has no runtime code and must never be imported by the worker or the CLI.
package deployaws
