package anchor

// IAMActions lists every AWS API action this package calls (checked against
// deploy/ IAM policies): PutObject with Object Lock retention
// (s3:PutObjectRetention authorises the retention headers) and listing the
// anchors/ prefix. Anchors are read through internal/objects (s3:GetObject).
var IAMActions = []string{"s3:PutObject", "s3:PutObjectRetention", "s3:ListBucket"}
