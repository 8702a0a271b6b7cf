macro_rules! drive {
    ($m:ident) => {{
        let mut s = $m::Nav::__create();
        let mut t: Vec<String> = Vec::new();
        s.visit(); s.visit();
        s.open(1); s.visit();
        s.open(2); s.visit(); s.visit(); s.visit();
        t.push(format!("{} {}", s.where_(), s.count()));
        assert_eq!((s.where_(), s.count()), (2, 3));
        s.back();
        t.push(format!("{} {}", s.where_(), s.count()));
        assert_eq!((s.where_(), s.count()), (1, 1));
        s.back();
        assert_eq!((s.where_(), s.count()), (0, 2));
        s.back(); // empty stack: no transition, counted
        assert_eq!(s.__stack_underflows, 1);
        assert_eq!((s.where_(), s.count()), (0, 2));
        t.push(format!("{} {} e{} x{} u{}", s.where_(), s.count(), s.enters, s.exits, s.__stack_underflows));
        t
    }};
}
