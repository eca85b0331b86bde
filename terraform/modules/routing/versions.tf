terraform {
  # Provider-free on purpose: this module only decodes the generated route table and derives
  # names from it, so it can be initialised, validated and planned offline in tests.
  required_version = ">= 1.5.0, < 2.0.0"
}
