package dbauth

// IAMActions lists every AWS API action this package needs (checked against deploy/ IAM policies).
// Tokens are presigned locally; the database checks rds-db:connect for the
// role that signed them.
var IAMActions = []string{"rds-db:connect"}
