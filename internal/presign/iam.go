package presign

// IAMActions lists every AWS API action this package calls (checked against deploy/ IAM policies).
// Presigning makes no call itself; the URL performs s3:PutObject with the
// presigning principal's permissions, so that principal needs it.
var IAMActions = []string{"s3:PutObject"}
