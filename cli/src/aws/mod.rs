//! Provisioning through the AWS SDK: one module per resource kind, each with read / create / update / delete.
