//! What deployed EVM code does, read from the bytecode alone: a disassembly that skips PUSH
//! data, the opcodes that matter to a scout where they can run, and the operands of the calls
//! that move value, found by a small constant-folding stack simulation.
//!
//! Only code that can run counts: the EVM starts at offset 0 and can jump only to a
//! `JUMPDEST` that is an instruction of the same linear disassembly, so after an instruction
//! that ends execution (`STOP`, `JUMP`, `RETURN`, `REVERT`, `INVALID`, `SELFDESTRUCT`, an
//! undefined opcode) the bytes up to the next `JUMPDEST` are data, not code. solc's CBOR
//! metadata at the end is cut off first.
//!
//! Operands are simulated per basic block: values pushed, copied and combined with arithmetic
//! inside the block are known (immutables are `PUSH32` constants in deployed code, masked with
//! `2^160 - 1`), anything from before the block is unknown. That is enough to tell
//! `DELEGATECALL` to a constant library from one to an address read from storage or calldata,
//! and to see `CALL{value: msg.value}` or `CALL{value: address(this).balance}`; it
//! under-approximates (an operand set up in an earlier block counts as unknown), which for the
//! variable-target check errs on the side of flagging.

use alloy::primitives::{Address, B256, U256};

/// The EVM opcodes the analysis names.
mod op {
    pub const STOP: u8 = 0x00;
    pub const ADD: u8 = 0x01;
    pub const MUL: u8 = 0x02;
    pub const SUB: u8 = 0x03;
    pub const DIV: u8 = 0x04;
    pub const EXP: u8 = 0x0a;
    pub const AND: u8 = 0x16;
    pub const OR: u8 = 0x17;
    pub const XOR: u8 = 0x18;
    pub const NOT: u8 = 0x19;
    pub const SHL: u8 = 0x1b;
    pub const SHR: u8 = 0x1c;
    pub const ADDRESS: u8 = 0x30;
    pub const BALANCE: u8 = 0x31;
    pub const CALLVALUE: u8 = 0x34;
    pub const SELFBALANCE: u8 = 0x47;
    pub const JUMP: u8 = 0x56;
    pub const JUMPDEST: u8 = 0x5b;
    pub const PUSH0: u8 = 0x5f;
    pub const PUSH1: u8 = 0x60;
    pub const PUSH32: u8 = 0x7f;
    pub const DUP1: u8 = 0x80;
    pub const DUP16: u8 = 0x8f;
    pub const SWAP1: u8 = 0x90;
    pub const SWAP16: u8 = 0x9f;
    pub const CALL: u8 = 0xf1;
    pub const CALLCODE: u8 = 0xf2;
    pub const RETURN: u8 = 0xf3;
    pub const DELEGATECALL: u8 = 0xf4;
    pub const CREATE2: u8 = 0xf5;
    pub const REVERT: u8 = 0xfd;
    pub const INVALID: u8 = 0xfe;
    pub const SELFDESTRUCT: u8 = 0xff;
}

/// The init code of the well-known metamorphic factory (0age's `MetamorphicContractFactory`):
/// it asks its creator for an implementation address and copies that contract's runtime code,
/// so the same CREATE2 address can be given different code after a `SELFDESTRUCT`.
pub const METAMORPHIC_INIT_CODE: [u8; 28] = [
    0x58, 0x60, 0x20, 0x81, 0x58, 0x60, 0x1c, 0x33, 0x5a, 0x63, 0xaa, 0xf1, 0x0f, 0x42, 0x87, 0x52,
    0xfa, 0x15, 0x81, 0x51, 0x80, 0x3b, 0x80, 0x93, 0x80, 0x91, 0x92, 0x3c,
];

/// One instruction of the linear disassembly.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Instruction<'a> {
    /// Offset in the code.
    pub pc: usize,
    /// The opcode byte.
    pub opcode: u8,
    /// The immediate of a PUSH (may be shorter than the PUSH says at the very end of the code).
    pub immediate: &'a [u8],
}

/// The instructions of `code` in order, PUSH data skipped: the same walk the EVM makes to find
/// valid jump destinations.
pub fn disassemble(code: &[u8]) -> impl Iterator<Item = Instruction<'_>> {
    let mut pc = 0;
    std::iter::from_fn(move || {
        let opcode = *code.get(pc)?;
        let size = if (op::PUSH1..=op::PUSH32).contains(&opcode) {
            usize::from(opcode - op::PUSH1) + 1
        } else {
            0
        };
        let start = pc + 1;
        let end = start.saturating_add(size).min(code.len());
        let instruction = Instruction {
            pc,
            opcode,
            immediate: code.get(start..end).unwrap_or_default(),
        };
        pc = start + size;
        Some(instruction)
    })
}

/// An operand of a call, as far as the simulation knows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operand {
    /// A constant: a PUSH immediate (immutables included) or arithmetic on constants.
    Constant(U256),
    /// `CALLVALUE`: the value this call received.
    CallValue,
    /// `SELFBALANCE` or `BALANCE(ADDRESS)`: everything the contract holds.
    SelfBalance,
    /// `ADDRESS`: the contract itself.
    SelfAddress,
    /// Computed from something the simulation does not track (storage, calldata, memory, an
    /// earlier block).
    Unknown,
}

impl Operand {
    /// The address a constant call target names (the EVM uses the low 160 bits).
    pub fn address(self) -> Option<Address> {
        match self {
            Operand::Constant(word) => Some(Address::from_word(B256::from(word))),
            _ => None,
        }
    }
}

/// A `CALL`, `CALLCODE` or `DELEGATECALL` and its simulated target and value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallSite {
    /// Offset of the call instruction.
    pub pc: usize,
    /// The callee.
    pub target: Operand,
    /// The value sent (`Unknown` for `DELEGATECALL`, which sends none of its own).
    pub value: Operand,
}

/// What the scout needs to know about one piece of code.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Analysis {
    /// Offsets of reachable `SELFDESTRUCT`s.
    pub selfdestructs: Vec<usize>,
    /// Offsets of reachable `CREATE2`s.
    pub create2s: Vec<usize>,
    /// Reachable `CALLCODE`s.
    pub callcodes: Vec<CallSite>,
    /// Reachable `DELEGATECALL`s.
    pub delegatecalls: Vec<CallSite>,
    /// Reachable `CALL`s.
    pub calls: Vec<CallSite>,
    /// The 32-byte words pushed by reachable `PUSH32`s (storage slot constants, immutables).
    pub push32: Vec<B256>,
    /// Offset of [`METAMORPHIC_INIT_CODE`] anywhere in the code (it is data there, so this
    /// looks at every byte).
    pub metamorphic_init_code: Option<usize>,
}

/// Analyses `code`, whose executable part ends at `code_end` (the start of solc's metadata, or
/// the code's length).
pub fn analyse(code: &[u8], code_end: usize) -> Analysis {
    let executable = code.get(..code_end).unwrap_or(code);
    let mut analysis = Analysis {
        metamorphic_init_code: code
            .windows(METAMORPHIC_INIT_CODE.len())
            .position(|w| w == METAMORPHIC_INIT_CODE),
        ..Analysis::default()
    };
    let mut stack = Stack::default();
    let mut reachable = true;
    for instruction in disassemble(executable) {
        let opcode = instruction.opcode;
        if opcode == op::JUMPDEST {
            reachable = true;
            stack = Stack::default();
        }
        if !reachable {
            continue;
        }
        match opcode {
            op::SELFDESTRUCT => analysis.selfdestructs.push(instruction.pc),
            op::CREATE2 => analysis.create2s.push(instruction.pc),
            op::PUSH32 => {
                if let Ok(word) = B256::try_from(instruction.immediate) {
                    analysis.push32.push(word);
                }
            }
            op::CALL | op::CALLCODE => {
                let (target, value) = (stack.peek(1), stack.peek(2));
                let site = CallSite {
                    pc: instruction.pc,
                    target,
                    value,
                };
                if opcode == op::CALL {
                    analysis.calls.push(site);
                } else {
                    analysis.callcodes.push(site);
                }
            }
            op::DELEGATECALL => analysis.delegatecalls.push(CallSite {
                pc: instruction.pc,
                target: stack.peek(1),
                value: Operand::Unknown,
            }),
            _ => {}
        }
        if ends_execution(opcode) {
            reachable = false;
        } else {
            stack.step(&instruction);
        }
    }
    analysis
}

/// Whether execution never falls through `opcode` to the next instruction.
fn ends_execution(opcode: u8) -> bool {
    matches!(
        opcode,
        op::STOP | op::JUMP | op::RETURN | op::REVERT | op::INVALID | op::SELFDESTRUCT
    ) || stack_effect(opcode).is_none()
}

/// How many words `opcode` takes from the stack and puts back; `None` for undefined opcodes
/// (which abort like `INVALID`). PUSH, DUP and SWAP are handled by the simulation itself.
fn stack_effect(opcode: u8) -> Option<(usize, usize)> {
    Some(match opcode {
        0x00 | 0x5b => (0, 0),                                    // STOP, JUMPDEST
        0x01..=0x07 | 0x0a | 0x0b => (2, 1),                      // arithmetic, EXP, SIGNEXTEND
        0x08 | 0x09 => (3, 1),                                    // ADDMOD, MULMOD
        0x10..=0x14 | 0x16..=0x18 | 0x1a..=0x1d => (2, 1), // comparisons, bitwise, BYTE, shifts
        0x15 | 0x19 | 0x1e => (1, 1),                      // ISZERO, NOT, CLZ
        0x20 => (2, 1),                                    // KECCAK256
        0x30 | 0x32..=0x34 | 0x36 | 0x38 | 0x3a | 0x3d => (0, 1), // environment
        0x31 | 0x35 | 0x3b | 0x3f => (1, 1), // BALANCE, CALLDATALOAD, EXTCODESIZE/HASH
        0x37 | 0x39 | 0x3e => (3, 0),        // CALLDATACOPY, CODECOPY, RETURNDATACOPY
        0x3c => (4, 0),                      // EXTCODECOPY
        0x40 | 0x49 => (1, 1),               // BLOCKHASH, BLOBHASH
        0x41..=0x48 | 0x4a => (0, 1),        // block information, SELFBALANCE
        0x50 | 0x56 => (1, 0),               // POP, JUMP
        0x51 | 0x54 | 0x5c => (1, 1),        // MLOAD, SLOAD, TLOAD
        0x52 | 0x53 | 0x55 | 0x57 | 0x5d => (2, 0), // MSTORE(8), SSTORE, JUMPI, TSTORE
        0x58 | 0x59 | 0x5a | 0x5f => (0, 1), // PC, MSIZE, GAS, PUSH0
        0x5e => (3, 0),                      // MCOPY
        0x60..=0x9f => (0, 0),               // PUSH, DUP, SWAP
        0xa0..=0xa4 => (usize::from(opcode - 0xa0) + 2, 0), // LOG0..LOG4
        0xf0 => (3, 1),                      // CREATE
        0xf1 | 0xf2 => (7, 1),               // CALL, CALLCODE
        0xf3 | 0xfd => (2, 0),               // RETURN, REVERT
        0xf4 | 0xfa => (6, 1),               // DELEGATECALL, STATICCALL
        0xf5 => (4, 1),                      // CREATE2
        0xfe => (0, 0),                      // INVALID
        0xff => (1, 0),                      // SELFDESTRUCT
        _ => return None,
    })
}

/// The simulated stack of one basic block; the top is the last element. Words from before the
/// block are not there: reading below the bottom gives [`Operand::Unknown`].
#[derive(Default)]
struct Stack(Vec<Operand>);

/// `2^160 - 1`: the mask solc applies to addresses.
const ADDRESS_MASK: U256 = U256::from_limbs([u64::MAX, u64::MAX, 0xffff_ffff, 0]);

impl Stack {
    /// The word `depth` below the top (0 is the top).
    fn peek(&self, depth: usize) -> Operand {
        self.0
            .len()
            .checked_sub(depth + 1)
            .and_then(|i| self.0.get(i))
            .copied()
            .unwrap_or(Operand::Unknown)
    }

    fn pop(&mut self) -> Operand {
        self.0.pop().unwrap_or(Operand::Unknown)
    }

    fn push(&mut self, operand: Operand) {
        self.0.push(operand);
    }

    /// Applies `instruction` (which does not end execution) to the stack.
    fn step(&mut self, instruction: &Instruction<'_>) {
        let opcode = instruction.opcode;
        match opcode {
            op::PUSH0 => self.push(Operand::Constant(U256::ZERO)),
            op::PUSH1..=op::PUSH32 => {
                let size = usize::from(opcode - op::PUSH1) + 1;
                // A PUSH cut off by the end of the code reads zeros past it.
                let value = (instruction.immediate.len() == size)
                    .then(|| U256::from_be_slice(instruction.immediate))
                    .map_or(Operand::Unknown, Operand::Constant);
                self.push(value);
            }
            op::DUP1..=op::DUP16 => {
                let n = usize::from(opcode - op::DUP1);
                self.push(self.peek(n));
            }
            op::SWAP1..=op::SWAP16 => {
                let n = usize::from(opcode - op::SWAP1) + 1;
                // Words from before the block become explicit unknowns so they can be swapped.
                while self.0.len() <= n {
                    self.0.insert(0, Operand::Unknown);
                }
                let top = self.0.len() - 1;
                self.0.swap(top, top - n);
            }
            op::CALLVALUE => self.push(Operand::CallValue),
            op::SELFBALANCE => self.push(Operand::SelfBalance),
            op::ADDRESS => self.push(Operand::SelfAddress),
            op::BALANCE => {
                let account = self.pop();
                self.push(if account == Operand::SelfAddress {
                    Operand::SelfBalance
                } else {
                    Operand::Unknown
                });
            }
            op::NOT => {
                let a = self.pop();
                self.push(match a {
                    Operand::Constant(a) => Operand::Constant(!a),
                    _ => Operand::Unknown,
                });
            }
            op::ADD
            | op::MUL
            | op::SUB
            | op::DIV
            | op::EXP
            | op::AND
            | op::OR
            | op::XOR
            | op::SHL
            | op::SHR => {
                let (a, b) = (self.pop(), self.pop());
                self.push(fold(opcode, a, b));
            }
            _ => {
                let (inputs, outputs) = stack_effect(opcode).unwrap_or((0, 0));
                for _ in 0..inputs {
                    self.pop();
                }
                for _ in 0..outputs {
                    self.push(Operand::Unknown);
                }
            }
        }
    }
}

/// The result of binary `opcode` with `a` on top of the stack and `b` below it.
fn fold(opcode: u8, a: Operand, b: Operand) -> Operand {
    use Operand::Constant;
    match (a, b) {
        (Constant(a), Constant(b)) => Constant(match opcode {
            op::ADD => a.wrapping_add(b),
            op::MUL => a.wrapping_mul(b),
            op::SUB => a.wrapping_sub(b),
            op::DIV => a.checked_div(b).unwrap_or(U256::ZERO),
            op::EXP => a.wrapping_pow(b),
            op::AND => a & b,
            op::OR => a | b,
            op::XOR => a ^ b,
            // SHL and SHR take the shift from the top.
            op::SHL => shifted(b, a, |v, s| v << s),
            op::SHR => shifted(b, a, |v, s| v >> s),
            _ => return Operand::Unknown,
        }),
        // Masking an address keeps what it is (solc masks every address it loads).
        (Constant(mask), other) | (other, Constant(mask))
            if opcode == op::AND && mask == ADDRESS_MASK =>
        {
            other
        }
        _ => Operand::Unknown,
    }
}

/// `value` shifted by `shift` bits with `by`; zero for shifts of 256 bits or more.
fn shifted(value: U256, shift: U256, by: fn(U256, usize) -> U256) -> U256 {
    match usize::try_from(shift) {
        Ok(s) if s < 256 => by(value, s),
        _ => U256::ZERO,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(text: &str) -> Vec<u8> {
        hex::decode(text).unwrap()
    }

    #[test]
    fn push_data_is_not_code() {
        // PUSH2 0xff5b: the SELFDESTRUCT and JUMPDEST bytes are data; then STOP.
        let code = hex("61ff5b00");
        let ops: Vec<u8> = disassemble(&code).map(|i| i.opcode).collect();
        assert_eq!(ops, vec![0x61, 0x00]);
        assert!(analyse(&code, code.len()).selfdestructs.is_empty());
    }

    #[test]
    fn bytes_after_a_terminator_are_data_until_a_jumpdest() {
        // STOP, then 0xff (unreachable), then JUMPDEST, CALLER, SELFDESTRUCT (reachable).
        let code = hex("00ff5b33ff");
        assert_eq!(analyse(&code, code.len()).selfdestructs, vec![4]);
        // The metadata cut-off hides what follows it.
        assert!(analyse(&code, 2).selfdestructs.is_empty());
    }

    #[test]
    fn call_operands_are_folded_within_a_block() {
        // Like solc's forwarder: PUSH0, PUSH32 <immutable owner>, AND with (1 << 160) - 1,
        // CALLVALUE, four PUSH0s, DUP5 (the value) and DUP7 (the owner), GAS, CALL.
        let owner = "00000000000000000000000011223344556677889900aabbccddeeff00112233";
        let code = hex(&format!(
            "5f7f{owner}6001600160a01b0316345f5f5f5f84865af100"
        ));
        let analysis = analyse(&code, code.len());
        assert_eq!(analysis.calls.len(), 1, "{analysis:?}");
        let call = analysis.calls[0];
        assert_eq!(
            call.target.address(),
            Some(
                "0x11223344556677889900aabbccddeeff00112233"
                    .parse()
                    .unwrap()
            )
        );
        assert_eq!(call.value, Operand::CallValue);
    }

    #[test]
    fn delegatecall_targets_from_storage_are_unknown() {
        // PUSH1 0 SLOAD (target) then DELEGATECALL with GAS on top.
        let code = hex("5f5f5f5f5f545af400");
        let analysis = analyse(&code, code.len());
        assert_eq!(analysis.delegatecalls[0].target, Operand::Unknown);
        // PUSH20 constant target: known.
        let code = hex("5f5f5f5f73aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa5af400");
        let analysis = analyse(&code, code.len());
        assert!(analysis.delegatecalls[0].target.address().is_some());
    }

    #[test]
    fn whole_balance_is_recognised() {
        // ADDRESS BALANCE as the value, CALLER as the target.
        let code = hex("5f5f5f5f3031335af100");
        let analysis = analyse(&code, code.len());
        assert_eq!(analysis.calls[0].value, Operand::SelfBalance);
        assert_eq!(analysis.calls[0].target, Operand::Unknown);
    }

    #[test]
    fn truncated_push_at_the_end_does_not_panic() {
        for code in [hex("7f0102"), hex("60"), hex("90"), hex("f1"), Vec::new()] {
            analyse(&code, code.len());
            analyse(&code, code.len() + 5);
        }
    }
}
