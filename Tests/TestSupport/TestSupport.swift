import Hummingbird
enum TestSupportModule {}
