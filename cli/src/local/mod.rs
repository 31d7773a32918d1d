//! Running the packaged function on this machine under an embedded Lambda Runtime API.
