//! revm's precompile provider for the L2 (the `evm` feature): the rules of [`super`] inside
//! revm's EVM, for the block builder, the trace and the node's `eth_call`.

use alloy_primitives::{Address, Bytes};
use revm::{
    context::Cfg,
    context_interface::ContextTr,
    handler::{precompile_output_to_interpreter_result, EthPrecompiles, PrecompileProvider},
    interpreter::{CallInputs, Gas, InstructionResult, InterpreterResult},
    primitives::{hardfork::SpecId, AddressSet},
};

use super::execute;

/// A mainnet revm EVM with the L2's precompiles (`build_mainnet()` then
/// `.with_precompiles(L2Precompiles::new(spec))`).
pub type L2Evm<CTX, INSP = ()> = revm::context::Evm<
    CTX,
    INSP,
    revm::handler::instructions::EthInstructions<
        revm::interpreter::interpreter::EthInterpreter,
        CTX,
    >,
    L2Precompiles,
    revm::handler::EthFrame<revm::interpreter::interpreter::EthInterpreter>,
>;

/// revm's precompile provider for the L2: [`EthPrecompiles`] under this module's limits.
#[derive(Clone, Debug)]
pub struct L2Precompiles {
    inner: EthPrecompiles,
}

impl L2Precompiles {
    /// The precompiles of `spec` (the chain's: Cancun).
    pub fn new(spec: SpecId) -> Self {
        Self {
            inner: EthPrecompiles::new(spec),
        }
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for L2Precompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, spec: <CTX::Cfg as Cfg>::Spec) -> bool {
        <EthPrecompiles as PrecompileProvider<CTX>>::set_spec(&mut self.inner, spec)
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        let Some(precompile) = self.inner.precompiles.get(&inputs.bytecode_address) else {
            return Ok(None);
        };
        let input = inputs.input.as_bytes(context);
        Ok(Some(
            match execute(precompile, &input, inputs.gas_limit, inputs.reservoir)? {
                Some(output) => precompile_output_to_interpreter_result(output, inputs.gas_limit),
                None => {
                    let mut gas = Gas::new(inputs.gas_limit);
                    gas.spend_all();
                    InterpreterResult::new(InstructionResult::PrecompileError, Bytes::new(), gas)
                }
            },
        ))
    }

    fn warm_addresses(&self) -> &AddressSet {
        self.inner.warm_addresses()
    }

    fn contains(&self, address: &Address) -> bool {
        self.inner.contains(address)
    }
}
