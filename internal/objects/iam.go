package objects

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
// HeadObject is authorised by s3:GetObject; Tags (GetObjectTagging, for
// document attributes) by s3:GetObjectTagging.
var IAMActions = []string{"s3:GetObject", "s3:GetObjectTagging"}
