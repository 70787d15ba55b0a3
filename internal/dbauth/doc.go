// Package dbauth owns how tenantry logs in to PostgreSQL without a stored
// password: RDS/Aurora IAM authentication tokens, minted per connection
// from the process's AWS credentials (the task or function role) and
// handed to tenantdb as its Config.Password.
//
// It must never log or return a token anywhere but to the connection, and
// never open a database itself.
package dbauth
