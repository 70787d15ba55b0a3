package dlq

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
// Batch calls authorise as their single-message action
// (ChangeMessageVisibilityBatch needs sqs:ChangeMessageVisibility). The
// Resolver's HeadObject calls belong to internal/objects (s3:GetObject).
var IAMActions = []string{
	"sqs:CancelMessageMoveTask",
	"sqs:ChangeMessageVisibility",
	"sqs:DeleteMessage",
	"sqs:GetQueueAttributes",
	"sqs:ListDeadLetterSourceQueues",
	"sqs:ListMessageMoveTasks",
	"sqs:ListQueues",
	"sqs:ReceiveMessage",
	"sqs:SendMessage",
	"sqs:StartMessageMoveTask",
}
