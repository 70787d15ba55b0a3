package sfntask

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
// HeadObject is authorised by s3:GetObject. PutObject and DeleteObject are
// only ever called on keys under the intermediate prefix
// (intermediate/{tenant}/...), so the worker's role can scope them to it.
var IAMActions = []string{
	"s3:DeleteObject",
	"s3:GetObject",
	"s3:PutObject",
	"states:SendTaskFailure",
	"states:SendTaskHeartbeat",
	"states:SendTaskSuccess",
}
