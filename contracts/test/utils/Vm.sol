// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

// The cheatcode declarations ship with the kit (kit/src/Vm.sol); the tests import them from here.
import {Vm, TestBase} from "../../kit/src/Vm.sol";
