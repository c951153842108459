# Packer itself and its plugins, pinned in one place.
#
# Kept in a file of its own so tests can validate the template with an older
# packer that predates `required_plugins` by leaving just this file out.
packer {
  required_version = ">= 1.10.0"

  required_plugins {
    amazon = {
      # >= 1.2.1: deprecate_at, imds_support and metadata_options all present.
      version = "= 1.3.3"
      source  = "github.com/hashicorp/amazon"
    }
  }
}
