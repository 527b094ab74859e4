// The layer check's program: it does nothing. Linking it with one whole layer archive and only
// the layers below it fails when that layer calls into a layer above (CMakeLists.txt).
int main() {
  return 0;
}
