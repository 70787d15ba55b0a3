package sfnctl

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
// HeadObject is authorised by s3:GetObject; the SQS actions are on the
// Express failure queue (Replay) only.
var IAMActions = []string{
	"s3:GetObject",
	"sqs:ChangeMessageVisibility",
	"sqs:DeleteMessage",
	"sqs:ReceiveMessage",
	"states:DescribeExecution",
	"states:ListExecutions",
	"states:RedriveExecution",
	"states:StartExecution",
}
