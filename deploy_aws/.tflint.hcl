# tflint with its bundled Terraform rules (all of them, "all" preset). The AWS ruleset plugin is added
# on GitHub (.github/workflows/deploy-aws.yml), where its release can be downloaded.
config {
  call_module_type = "local"
}

plugin "terraform" {
  enabled = true
  preset  = "all"
}
