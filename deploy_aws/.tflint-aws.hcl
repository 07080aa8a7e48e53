# tflint on GitHub (.github/workflows/deploy-aws.yml): the bundled Terraform rules plus the AWS ruleset,
# whose plugin release `tflint --init` downloads (not reachable from the lab's machines; locally
# .tflint.hcl runs the Terraform rules only).
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}

plugin "aws" {
  enabled = true
  version = "0.48.0"
  source  = "github.com/terraform-linters/tflint-ruleset-aws"
}
