macro_rules! drive {
    ($m:ident) => {{
        let noalloc = stringify!($m) == "n";
        let mut s = $m::Deep::__create();
        let mut t: Vec<String> = Vec::new();
        s.dive(1); s.dive(2);             // stack: Start, L1
        assert_eq!(s.level(), 2);
        s.dive(3);                        // no_alloc: full (2), push ignored
        assert_eq!(s.level(), 3);
        assert_eq!(s.__stack_overflows, if noalloc { 1 } else { 0 });
        s.up();                           // no_alloc: L1 (L2 was never saved); alloc: L2
        let after_first_pop = s.level();
        assert_eq!(after_first_pop, if noalloc { 1 } else { 2 });
        t.push(String::from("pops"));
        s.up(); s.up(); s.up(); s.up();
        assert_eq!(s.level(), 0);
        assert!(s.__stack_underflows >= 1);
        t.push(format!("level={}", s.level()));
        t
    }};
}
