module example.com/producer

go 1.26.8

require github.com/tenantry/tenantry v0.0.0

replace github.com/tenantry/tenantry => ../../..
