//! Fixtures shared by the end-to-end tests in this folder. Every server a fixture
//! starts listens on 127.0.0.1 and is stopped when the fixture is dropped.
#![allow(dead_code)]

pub mod claw;
pub mod fault_proxy;
pub mod mock_model;
pub mod moto;
