terraform {
  # 1.10: the S3 backend's native lock file (use_lockfile); no DynamoDB table.
  required_version = ">= 1.10"

  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 6.0, < 7.0"
    }
  }

  # Partial configuration: bucket, key, region and use_lockfile come from a file passed with
  # `terraform init -backend-config=backend.hcl` (see backend.hcl.example; make deploy-plan does it).
  backend "s3" {}
}

provider "aws" {
  region = var.region
  default_tags {
    tags = local.tags
  }
}
