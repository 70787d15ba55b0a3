package sqssource

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
// Batch calls authorize as their single-message action (DeleteMessageBatch
// needs sqs:DeleteMessage).
var IAMActions = []string{
	"sqs:ChangeMessageVisibility",
	"sqs:CreateQueue",
	"sqs:DeleteMessage",
	"sqs:GetQueueAttributes",
	"sqs:ReceiveMessage",
	"sqs:SendMessage",
	"sqs:SetQueueAttributes",
}

// RuntimeIAMActions are the actions a Source needs (the worker's role: on the
// queue ReceiveMessage, DeleteMessage, ChangeMessageVisibility and
// GetQueueAttributes; on the DLQ SendMessage and GetQueueAttributes).
var RuntimeIAMActions = []string{
	"sqs:ChangeMessageVisibility",
	"sqs:DeleteMessage",
	"sqs:GetQueueAttributes",
	"sqs:ReceiveMessage",
	"sqs:SendMessage",
}

// SetupIAMActions are the actions EnsureQueues needs (operators, the demo,
// tests; never the worker's role).
var SetupIAMActions = []string{
	"sqs:CreateQueue",
	"sqs:GetQueueAttributes",
	"sqs:SetQueueAttributes",
}
