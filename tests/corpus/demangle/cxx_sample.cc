// C++ constructs whose mangled names test_demangle.py feeds to crashsig.demangle and
// to `c++filt -p -i`.  Built by the test with: clang++ -std=c++17 -O1 -c cxx_sample.cc
#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <tuple>
#include <unordered_map>
#include <vector>

namespace ns {
namespace inner {
struct Widget {
  int v;
  Widget();
  ~Widget();
  Widget(const Widget&);
  int get() const;
  void set(int) volatile;
  Widget& operator=(const Widget&);
  bool operator<(const Widget&) const;
  operator bool() const;
  int operator()(int, double) &;
  static int count;
  template <typename T> T as() const { return T(v); }
};
Widget::Widget() : v(0) {}
Widget::~Widget() {}
Widget::Widget(const Widget& o) : v(o.v) {}
int Widget::get() const { static int calls = 0; return v + ++calls; }
void Widget::set(int x) volatile { v = x; }
Widget& Widget::operator=(const Widget& o) { v = o.v; return *this; }
bool Widget::operator<(const Widget& o) const { return v < o.v; }
Widget::operator bool() const { return v; }
int Widget::operator()(int a, double) & { return a; }
int Widget::count = 3;
template <typename T, int N> struct Arr { T data[N]; T& at(int i) { return data[i]; } };
template struct Arr<char, 4>;
template struct Arr<Widget*, 2>;
}  // namespace inner
}  // namespace ns

namespace {
int anon_fn(int x) { return x * 2; }
}  // namespace

template <typename T> T tmax(T a, T b) { return a < b ? b : a; }
template int tmax<int>(int, int);
template double tmax<double>(double, double);
template <typename... Ts> int count_args(Ts...) { return sizeof...(Ts); }
template int count_args<>();
template int count_args<int, char, const char*>(int, char, const char*);
template <bool B, unsigned U, long L> int flags() { return B + U + L; }
template int flags<true, 5u, -7l>();
enum class Color { Red, Green };
template <Color C> int color() { return (int)C; }
template int color<Color::Green>();

int takes_fnptr(void (*cb)(int), int (&arr)[3], int ns::inner::Widget::*pm,
                int (ns::inner::Widget::*pmf)() const) { return arr[0]; }
int arr_fn(int (*p)[5], int q[2][3]) { return 0; }
int rvalue(std::string&& s, const int& r) { return s.size() + r; }
const char* const cstr(volatile int* p, const volatile long* q, unsigned long long z,
                       __int128 w, wchar_t c, char16_t d, char32_t e, long double ld,
                       float f) { return "x"; }
int use_lambda(int x) {
  auto f = [x](int y) { return x + y; };
  auto g = [](double d) { return d; };
  static std::string s = "x";
  return f(1) + (int)g(2.0) + s.size();
}

struct Base { virtual ~Base(); virtual int f(); };
struct Base2 { virtual int g(); virtual ~Base2(); };
struct Derived : Base, Base2 { int f() override; int g() override; ~Derived() override; };
Base::~Base() {}
int Base::f() { return 1; }
int Base2::g() { return 2; }
Base2::~Base2() {}
int Derived::f() { return 3; }
int Derived::g() { return 4; }
Derived::~Derived() {}
struct VBase { virtual int h(); };
int VBase::h() { return 0; }
struct VDer : virtual VBase { int h() override; };
int VDer::h() { return 1; }
thread_local int tls_var = 5;
int read_tls() { return tls_var; }

struct Item { std::string name; int w; };
int sort_items(std::vector<Item>& v) {
  std::sort(v.begin(), v.end(), [](const Item& a, const Item& b) { return a.name < b.name; });
  return v.size();
}
int umap(std::unordered_map<std::string, std::shared_ptr<Item>>& m) {
  m["x"] = std::make_shared<Item>();
  return m.size();
}
int tup(std::tuple<int, double, std::string> t) { return std::get<0>(t); }
std::string join(const std::vector<std::string>& v, const std::map<std::string, int>& m) {
  std::ostringstream os;
  for (auto& s : v) os << s;
  return os.str() + std::to_string(m.size());
}
std::function<int(int)> fn() { return [](int a) { return a; }; }
std::unique_ptr<ns::inner::Widget> make() { return std::make_unique<ns::inner::Widget>(); }

int main() {
  ns::inner::Widget w;
  std::vector<std::string> v{"a"};
  std::map<std::string, int> m;
  return anon_fn(2) + use_lambda(1) + fn()(2) + w.as<long>() + read_tls() + join(v, m).size() +
         make()->get();
}
