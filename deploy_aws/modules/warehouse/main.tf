# Redshift Serverless at the smallest base capacity. The admin password is generated and kept by Secrets
# Manager (manage_admin_password), never seen by Terraform or the repo; the lab reaches the warehouse
# through the Data API with that secret's ARN. The DDL is applied by the lab (sql/ddl), not here.

resource "aws_redshiftserverless_namespace" "warehouse" {
  #checkov:skip=CKV_AWS_282:encrypted with the AWS-owned key; a customer managed KMS key is out of the lab's cost model (ADR 0015)
  namespace_name        = var.namespace_name
  db_name               = var.database
  admin_username        = var.admin_username
  manage_admin_password = true
  iam_roles             = [var.role_arn]
  default_iam_role_arn  = var.role_arn
  log_exports           = ["userlog", "connectionlog", "useractivitylog"]
  tags                  = var.tags
}

resource "aws_redshiftserverless_workgroup" "warehouse" {
  namespace_name      = aws_redshiftserverless_namespace.warehouse.namespace_name
  workgroup_name      = var.workgroup_name
  base_capacity       = var.base_capacity
  publicly_accessible = false
  subnet_ids          = length(var.subnet_ids) > 0 ? var.subnet_ids : null
  security_group_ids  = length(var.security_group_ids) > 0 ? var.security_group_ids : null
  tags                = var.tags
}

# Cost guard: compute stops (queries fail) once the month's RPU-hours are used up.
resource "aws_redshiftserverless_usage_limit" "compute" {
  resource_arn  = aws_redshiftserverless_workgroup.warehouse.arn
  usage_type    = "serverless-compute"
  amount        = var.monthly_rpu_hours
  period        = "monthly"
  breach_action = "deactivate"
}
