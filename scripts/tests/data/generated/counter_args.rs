// Test data for scripts/tests/test_ctor_args.py, written by hand for this
// project in the shape framec 4.5's Rust back end gives a system with
// parameters (`@@system Counter(step: i32, limit: i32)`): the system inside
// a private module re-exported with `pub use`, `pub fn __create(...) ->
// Self` and no `new()`, an event enum carried in an `Rc`, a context stack,
// compartments named by a `String`, and one `pub fn` per interface method.
// Interface: tick(), bump(by: i32) -> i32, greet(who: &str) -> String,
// state_name() -> &str; a pub field whose type has no Debug (Journal).
// Two states: $Counting (tick adds `step`; reaching `limit` goes to $Full)
// and $Full (tick wraps to 0 and goes back).
#[allow(dead_code, unused_variables, unused_mut, non_camel_case_types)]
mod _counter_framec {
    use std::rc::Rc;

    #[derive(Clone)]
    enum CounterFrameEvent {
        Tick {},
        Bump { by: i32 },
        Greet { who: String },
        FrameEnter {},
        FrameExit {},
    }

    enum CounterFrameReturn {
        Int(i32),
        Text(String),
    }

    struct CounterFrameContext {
        event: Rc<CounterFrameEvent>,
        _return: Option<CounterFrameReturn>,
    }

    #[derive(Clone)]
    struct CounterCompartment {
        state: String,
        parent_compartment: Option<Box<CounterCompartment>>,
    }

    impl CounterCompartment {
        fn new(state: &str) -> Self {
            Self { state: state.to_string(), parent_compartment: None }
        }
    }

    /// A domain type without Debug: the shim shows it as `<not Debug>`.
    pub struct Journal {
        pub entries: u32,
    }

    pub struct Counter {
        __compartment: CounterCompartment,
        __next_compartment: Option<CounterCompartment>,
        _context_stack: Vec<CounterFrameContext>,
        pub step: i32,
        pub limit: i32,
        pub count: i32,
        pub wraps: u32,
        pub journal: Journal,
    }

    #[allow(non_snake_case)]
    impl Counter {
        pub fn __create(step: i32, limit: i32) -> Self {
            let mut c = Self {
                __compartment: CounterCompartment::new("Counting"),
                __next_compartment: None,
                _context_stack: Vec::new(),
                step: step,
                limit: limit,
                count: 0,
                wraps: 0,
                journal: Journal { entries: 0 },
            };
            c.__dispatch(CounterFrameEvent::FrameEnter {});
            c
        }

        fn __dispatch(&mut self, ev: CounterFrameEvent) -> Option<CounterFrameReturn> {
            let __e = Rc::new(ev);
            self._context_stack.push(CounterFrameContext { event: Rc::clone(&__e), _return: None });
            self.__kernel(&__e);
            self._context_stack.pop().and_then(|ctx| ctx._return)
        }

        fn __kernel(&mut self, __e: &Rc<CounterFrameEvent>) {
            self.__router(__e);
            while let Some(next) = self.__next_compartment.take() {
                self.__router(&Rc::new(CounterFrameEvent::FrameExit {}));
                self.__compartment = next;
                self.__router(&Rc::new(CounterFrameEvent::FrameEnter {}));
            }
        }

        fn __router(&mut self, __e: &CounterFrameEvent) {
            match self.__compartment.state.as_str() {
                "Counting" => self._state_Counting(__e),
                "Full" => self._state_Full(__e),
                _ => {}
            }
        }

        fn __transition(&mut self, state: &str) {
            self.__next_compartment = Some(CounterCompartment::new(state));
        }

        fn __set_return(&mut self, r: CounterFrameReturn) {
            if let Some(ctx) = self._context_stack.last_mut() {
                ctx._return = Some(r);
            }
        }

        pub fn tick(&mut self) {
            self.__dispatch(CounterFrameEvent::Tick {});
        }

        pub fn bump(&mut self, by: i32) -> i32 {
            match self.__dispatch(CounterFrameEvent::Bump { by: by }) {
                Some(CounterFrameReturn::Int(v)) => v,
                _ => Default::default(),
            }
        }

        pub fn greet(&mut self, who: &str) -> String {
            match self.__dispatch(CounterFrameEvent::Greet { who: who.to_string() }) {
                Some(CounterFrameReturn::Text(v)) => v,
                _ => Default::default(),
            }
        }

        pub fn state_name(&mut self) -> &str {
            self.__compartment.state.as_str()
        }

        fn _state_Counting(&mut self, __e: &CounterFrameEvent) {
            match __e {
                CounterFrameEvent::Tick { .. } => {
                    self.count = self.count + self.step;
                    if self.count >= self.limit {
                        self.__transition("Full");
                    }
                }
                CounterFrameEvent::Bump { by } => {
                    self.count = self.count + *by;
                    let v = self.count;
                    self.__set_return(CounterFrameReturn::Int(v));
                }
                CounterFrameEvent::Greet { who } => {
                    let text = format!("{} at {}", who, self.count);
                    self.__set_return(CounterFrameReturn::Text(text));
                }
                _ => {}
            }
        }

        fn _state_Full(&mut self, __e: &CounterFrameEvent) {
            match __e {
                CounterFrameEvent::Tick { .. } => {
                    self.wraps = self.wraps + 1;
                    self.count = 0;
                    self.__transition("Counting");
                }
                _ => {}
            }
        }
    }
}
pub use _counter_framec::*;
